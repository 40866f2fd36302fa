import { t } from '../../core/shape.js'
import { checkPolicyName } from '../key-policy.js'
import { authorize } from '../authorize.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType, PolicyNameType } from '../shapes.js'

export const getKeyPolicy = defineOperation({
  name: 'GetKeyPolicy',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    PolicyName: t.optional(PolicyNameType),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:GetKeyPolicy')
    checkPolicyName(input.PolicyName)
    return { Policy: key.policy, PolicyName: 'default' }
  },
})
