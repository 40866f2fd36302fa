import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { macKey, macMembers, SignatureBlob } from '../asymmetric.js'
import { defineOperation } from '../operation.js'

export const verifyMac = defineOperation({
  name: 'VerifyMac',
  input: t.structure({ ...macMembers, Mac: t.required(SignatureBlob) }),
  async run(deps, caller, input) {
    const { key, material } = await macKey(deps, caller, input, 'VerifyMac')
    // A MAC that does not match is an error, not MacValid: false (AWS, empty message).
    if (!(await deps.hsm.verifyMac(material, input.Message, input.MacAlgorithm, input.Mac))) throw new KmsError('KMSInvalidMacException')
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm }
  },
})
