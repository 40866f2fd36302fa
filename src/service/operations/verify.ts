import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { SignatureBlob, signingKey, signMembers } from '../asymmetric.js'
import { defineOperation } from '../operation.js'

export const verify = defineOperation({
  name: 'Verify',
  input: t.structure({ ...signMembers, Signature: t.required(SignatureBlob) }),
  async run(deps, caller, input) {
    const { key, material, messageType } = await signingKey(deps, caller, input, 'Verify')
    // A signature that does not verify is an error, not SignatureValid: false (AWS, empty message).
    if (!(await deps.hsm.verify(material, input.Message, messageType, input.SigningAlgorithm, input.Signature))) {
      throw new KmsError('KMSInvalidSignatureException')
    }
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm }
  },
})
