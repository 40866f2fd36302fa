import { t } from '../../core/shape.js'
import { macKey, macMembers } from '../asymmetric.js'
import { defineOperation } from '../operation.js'

export const generateMac = defineOperation({
  name: 'GenerateMac',
  input: t.structure(macMembers),
  async run(deps, caller, input) {
    const { key, material } = await macKey(deps, caller, input, 'GenerateMac')
    const mac = await deps.hsm.generateMac(material, input.Message, input.MacAlgorithm)
    return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: key.arn }
  },
})
