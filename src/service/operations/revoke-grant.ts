import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { dryRunSucceeded } from '../dry-run.js'
import { GrantIdType, invalidGrantId, isGrantId } from '../grants.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

/** Revokes (deletes) a grant of a key; needs kms:RevokeGrant on the key. */
export const revokeGrant = defineOperation({
  name: 'RevokeGrant',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    GrantId: t.required(GrantIdType),
    DryRun: t.optional(t.boolean()),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
    await authorize(deps, caller, key, 'kms:RevokeGrant')
    const grant = isGrantId(input.GrantId) ? await deps.store.getGrant(input.GrantId) : undefined
    if (!grant || grant.keyId !== key.keyId) throw invalidGrantId()
    if (input.DryRun) dryRunSucceeded()
    await deps.store.deleteGrant(grant.grantId)
    return {}
  },
})
