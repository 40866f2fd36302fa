import { t } from '../../core/shape.js'
import { checkKeyPolicy, checkPolicyName } from '../key-policy.js'
import { mutateKey } from '../mutate-key.js'
import { defineOperation } from '../operation.js'
import { KeyIdType, PolicyNameType, PolicyType } from '../shapes.js'

export const putKeyPolicy = defineOperation({
  name: 'PutKeyPolicy',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    PolicyName: t.optional(PolicyNameType),
    Policy: t.required(PolicyType),
    BypassPolicyLockoutSafetyCheck: t.optional(t.boolean()),
  }),
  async run(deps, caller, input) {
    checkPolicyName(input.PolicyName)
    checkKeyPolicy(input.Policy)
    await mutateKey(deps, caller, input.KeyId, (key) => ({ ...key, policy: input.Policy }))
    return {}
  },
})
