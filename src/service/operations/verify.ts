import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { checkSignInput } from '../../hsm/asymmetric.js'
import { keyForOperation, keyOperationMembers, MessageBlob, MessageTypeSpec, SignatureBlob, SigningAlgorithmSpec } from '../asymmetric.js'
import { dryRunSucceeded } from '../dry-run.js'
import { defineOperation } from '../operation.js'

export const verify = defineOperation({
  name: 'Verify',
  input: t.structure({
    ...keyOperationMembers,
    Message: t.required(MessageBlob),
    MessageType: t.optional(MessageTypeSpec),
    Signature: t.required(SignatureBlob),
    SigningAlgorithm: t.required(SigningAlgorithmSpec),
  }),
  async run(deps, caller, input) {
    const messageType = input.MessageType ?? 'RAW'
    const { key, material } = await keyForOperation(deps, caller, input, 'Verify', ['SIGN_VERIFY'], { signingAlgorithm: input.SigningAlgorithm, messageType })
    checkSignInput(key.keySpec, input.SigningAlgorithm, messageType, input.Message)
    if (input.DryRun) dryRunSucceeded()
    // A signature that does not verify is an error, not SignatureValid: false (AWS, empty message).
    if (!(await deps.hsm.verify(material, input.Message, messageType, input.SigningAlgorithm, input.Signature))) {
      throw new KmsError('KMSInvalidSignatureException')
    }
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm }
  },
})
