import { t } from '../../core/shape.js'
import { assertAlgorithm } from '../../core/key-specs.js'
import { keyForOperation, keyOperationMembers, MacAlgorithmSpec, MessageBlob } from '../asymmetric.js'
import { dryRunSucceeded } from '../dry-run.js'
import { defineOperation } from '../operation.js'

export const generateMac = defineOperation({
  name: 'GenerateMac',
  input: t.structure({
    ...keyOperationMembers,
    Message: t.required(MessageBlob),
    MacAlgorithm: t.required(MacAlgorithmSpec),
  }),
  async run(deps, caller, input) {
    const { key, material } = await keyForOperation(deps, caller, input, 'GenerateMac', ['GENERATE_VERIFY_MAC'], { macAlgorithm: input.MacAlgorithm })
    assertAlgorithm(key.keySpec, 'macAlgorithms', input.MacAlgorithm)
    if (input.DryRun) dryRunSucceeded()
    const mac = await deps.hsm.generateMac(material, input.Message, input.MacAlgorithm)
    return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: key.arn }
  },
})
