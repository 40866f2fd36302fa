import { t } from '../../core/shape.js'
import { signingKey, signMembers } from '../asymmetric.js'
import { defineOperation } from '../operation.js'

export const sign = defineOperation({
  name: 'Sign',
  input: t.structure(signMembers),
  async run(deps, caller, input) {
    const { key, material, messageType } = await signingKey(deps, caller, input, 'Sign')
    const signature = await deps.hsm.sign(material, input.Message, messageType, input.SigningAlgorithm)
    return { KeyId: key.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm }
  },
})
