import { t } from '../../core/shape.js'
import { checkSignInput } from '../../hsm/asymmetric.js'
import { keyForOperation, keyOperationMembers, MessageBlob, MessageTypeSpec, SigningAlgorithmSpec } from '../asymmetric.js'
import { dryRunSucceeded } from '../dry-run.js'
import { defineOperation } from '../operation.js'

export const sign = defineOperation({
  name: 'Sign',
  input: t.structure({
    ...keyOperationMembers,
    Message: t.required(MessageBlob),
    MessageType: t.optional(MessageTypeSpec),
    SigningAlgorithm: t.required(SigningAlgorithmSpec),
  }),
  async run(deps, caller, input) {
    const messageType = input.MessageType ?? 'RAW'
    const { key, material } = await keyForOperation(deps, caller, input, 'Sign', ['SIGN_VERIFY'], { signingAlgorithm: input.SigningAlgorithm, messageType })
    checkSignInput(key.keySpec, input.SigningAlgorithm, messageType, input.Message)
    if (input.DryRun) dryRunSucceeded()
    const signature = await deps.hsm.sign(material, input.Message, messageType, input.SigningAlgorithm)
    return { KeyId: key.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm }
  },
})
