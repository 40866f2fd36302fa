import { t } from '../../core/shape.js'
import { dataKeyPairMembers, generateDataKeyPair } from '../data-key-pair.js'
import { defineOperation } from '../operation.js'

export const generateDataKeyPairWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyPairWithoutPlaintext',
  input: t.structure(dataKeyPairMembers),
  run: (deps, caller, input) => generateDataKeyPair(deps, caller, input, 'GenerateDataKeyPairWithoutPlaintext', false),
})
