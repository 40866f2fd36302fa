import { t } from '../../core/shape.js'
import { checkKeyPolicy, checkPolicyName } from '../key-policy.js'
import { mutateKey } from '../mutate-key.js'
import { checkLockoutSafety } from '../../policy/index.js'
import { identityPoliciesOf, keyResource, requestPrincipal } from '../authorize.js'
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
    const policy = checkKeyPolicy(input.Policy)
    const bypass = input.BypassPolicyLockoutSafetyCheck ?? false
    const identityPolicies = (await identityPoliciesOf(deps, caller)) ?? []
    await mutateKey(
      deps,
      caller,
      input.KeyId,
      'kms:PutKeyPolicy',
      (key) => {
        checkLockoutSafety({ keyPolicy: policy, principal: requestPrincipal(caller), resource: keyResource(key), identityPolicies, bypass })
        return { ...key, policy: input.Policy }
      },
      input.BypassPolicyLockoutSafetyCheck === undefined ? {} : { bypassPolicyLockoutSafetyCheck: bypass },
    )
    return {}
  },
})
