import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import type { GrantRecord, KeyRecord } from '../../store/store.js'
import { traceKey } from '../deps.js'
import { authorize } from '../authorize.js'
import { dryRunSucceeded } from '../dry-run.js'
import { GrantIdType, GrantTokenType, invalidGrantId, isGrantId, isGrantTokenShaped, principalNamesCaller } from '../grants.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

const invalidToken = (): KmsError => new KmsError('InvalidGrantTokenException', 'The grant token is not valid.')

/**
 * Retires a grant named by a grant token, or by KeyId and GrantId. Allowed (KMS API Reference,
 * RetireGrant) to the grant's retiring principal, to its grantee when the grant includes
 * RetireGrant, to the account in which the grant was created (its root: Trent's only kind of
 * caller today), and to anyone the key's policies or grants allow kms:RetireGrant.
 */
export const retireGrant = defineOperation({
  name: 'RetireGrant',
  input: t.structure({
    GrantToken: t.optional(GrantTokenType),
    KeyId: t.optional(KeyIdType),
    GrantId: t.optional(GrantIdType),
    DryRun: t.optional(t.boolean()),
  }),
  async run(deps, caller, input) {
    let grant: GrantRecord | undefined
    let key: KeyRecord | undefined
    if (input.GrantToken !== undefined) {
      if (!isGrantTokenShaped(input.GrantToken)) throw invalidToken()
      grant = await deps.store.grantByToken(input.GrantToken)
      if (!grant) throw invalidToken()
      if (input.GrantId !== undefined && input.GrantId !== grant.grantId) throw invalidGrantId()
      if (input.KeyId !== undefined) {
        const named = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
        if (named.keyId !== grant.keyId) throw new KmsError('NotFoundException', `Grant ${grant.grantId} is not a grant of ${named.arn}.`)
      }
      key = await deps.store.getKey(grant.keyId)
      if (!key) throw invalidToken()
      traceKey(caller, key)
    } else {
      if (input.KeyId === undefined || input.GrantId === undefined) {
        throw new KmsError('ValidationException', 'Specify either a GrantToken, or both KeyId and GrantId.')
      }
      key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
      if (!isGrantId(input.GrantId)) throw invalidGrantId()
      grant = await deps.store.getGrant(input.GrantId)
      if (!grant || grant.keyId !== key.keyId) throw new KmsError('NotFoundException', `Grant ${input.GrantId} does not exist on ${key.arn}.`)
    }
    const mayRetire =
      principalNamesCaller(grant.retiringPrincipal, caller) ||
      (grant.operations.includes('RetireGrant') && principalNamesCaller(grant.granteePrincipal, caller)) ||
      principalNamesCaller(grant.issuingAccount, caller)
    if (!mayRetire) await authorize(deps, caller, key, 'kms:RetireGrant')
    if (input.DryRun) dryRunSucceeded()
    await deps.store.deleteGrant(grant.grantId)
    return {}
  },
})
