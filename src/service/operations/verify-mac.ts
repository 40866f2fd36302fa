import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { assertAlgorithm } from '../../core/key-specs.js'
import { keyForOperation, keyOperationMembers, MacAlgorithmSpec, MessageBlob, SignatureBlob } from '../asymmetric.js'
import { dryRunSucceeded } from '../dry-run.js'
import { defineOperation } from '../operation.js'

export const verifyMac = defineOperation({
  name: 'VerifyMac',
  input: t.structure({
    ...keyOperationMembers,
    Message: t.required(MessageBlob),
    MacAlgorithm: t.required(MacAlgorithmSpec),
    Mac: t.required(SignatureBlob),
  }),
  async run(deps, caller, input) {
    const { key, material } = await keyForOperation(deps, caller, input, 'VerifyMac', ['GENERATE_VERIFY_MAC'], { macAlgorithm: input.MacAlgorithm })
    assertAlgorithm(key.keySpec, 'macAlgorithms', input.MacAlgorithm)
    if (input.DryRun) dryRunSucceeded()
    // A MAC that does not match is an error, not MacValid: false (AWS, empty message).
    if (!(await deps.hsm.verifyMac(material, input.Message, input.MacAlgorithm, input.Mac))) throw new KmsError('KMSInvalidMacException')
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm }
  },
})
