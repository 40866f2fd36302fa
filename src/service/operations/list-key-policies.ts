import { t } from '../../core/shape.js'
import { pageOf } from '../list-page.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType, MarkerType } from '../shapes.js'

export const listKeyPolicies = defineOperation({
  name: 'ListKeyPolicies',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    Limit: t.optional(t.integer({ min: 1, max: 1000 })),
    Marker: t.optional(MarkerType),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:ListKeyPolicies')
    // Every KMS key has exactly one key policy, named "default".
    const page = pageOf(['default'], input.Limit ?? 100, input.Marker)
    return { PolicyNames: page.items, ...page.more }
  },
})
