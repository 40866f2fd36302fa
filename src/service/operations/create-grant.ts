import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { StoreConflictError } from '../../store/store.js'
import { authorize } from '../authorize.js'
import { dryRunSucceeded } from '../dry-run.js'
import {
  canonicalConstraints,
  canonicalOperations,
  checkGrantRequest,
  checkGrantTokens,
  evaluatorConstraints,
  GrantConstraintsType,
  GrantNameType,
  GrantOperationType,
  MAX_GRANTS_PER_KEY,
  newGrantId,
  newGrantToken,
  PrincipalIdType,
} from '../grants.js'
import { assertKeyState } from '../key-state.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { GrantTokenList, KeyIdType } from '../shapes.js'

export const createGrant = defineOperation({
  name: 'CreateGrant',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    GranteePrincipal: t.required(PrincipalIdType),
    RetiringPrincipal: t.optional(PrincipalIdType),
    Operations: t.required(t.list(GrantOperationType)),
    Constraints: t.optional(GrantConstraintsType),
    GrantTokens: t.optional(GrantTokenList),
    Name: t.optional(GrantNameType),
    DryRun: t.optional(t.boolean()),
  }),
  async run(deps, caller, input) {
    checkGrantTokens(input.GrantTokens)
    // CreateGrant takes a key id or key ARN, not an alias.
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false, crossAccount: true })
    if (input.Operations.length === 0) throw new KmsError('ValidationException', 'Operations must contain at least one grant operation.')
    const operations = canonicalOperations(input.Operations)
    const constraints = canonicalConstraints(input.Constraints)
    const evaluated = evaluatorConstraints(constraints)
    // The evaluator sees the new grant: kms:GrantOperations and the other kms:Grant* keys, and the
    // rule that a grant-derived CreateGrant only delegates what it holds.
    await authorize(deps, caller, key, 'kms:CreateGrant', {
      newGrant: {
        operations,
        granteePrincipal: input.GranteePrincipal,
        ...(input.RetiringPrincipal === undefined ? {} : { retiringPrincipal: input.RetiringPrincipal }),
        ...(evaluated === undefined ? {} : { constraints: evaluated }),
        isForAwsResource: false,
      },
    })
    assertKeyState(key, 'grant')
    checkGrantRequest(key, operations, constraints)
    if (input.DryRun) dryRunSucceeded()
    if ((await deps.store.countGrants(key.keyId)) >= MAX_GRANTS_PER_KEY) {
      throw new KmsError('LimitExceededException', `The request was rejected because key ${key.arn} has ${MAX_GRANTS_PER_KEY} grants, the most it can have.`)
    }
    const token = newGrantToken()
    try {
      const grant = await deps.store.createGrant(
        {
          grantId: newGrantId(),
          keyId: key.keyId,
          ...(input.Name === undefined ? {} : { name: input.Name }),
          granteePrincipal: input.GranteePrincipal,
          ...(input.RetiringPrincipal === undefined ? {} : { retiringPrincipal: input.RetiringPrincipal }),
          operations,
          ...(constraints === undefined ? {} : { constraints }),
          issuingAccount: `arn:${deps.partition}:iam::${key.accountId}:root`,
          creationDate: deps.clock.now(),
        },
        token,
      )
      return { GrantToken: token, GrantId: grant.grantId }
    } catch (e) {
      // The key was deleted meanwhile.
      if (e instanceof StoreConflictError) throw new KmsError('NotFoundException', `Key '${key.arn}' does not exist`)
      throw e
    }
  },
})
