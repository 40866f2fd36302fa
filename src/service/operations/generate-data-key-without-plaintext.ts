import { t } from '../../core/shape.js'
import { dataKeyMembers, generateDataKey } from '../data-key.js'
import { defineOperation } from '../operation.js'

export const generateDataKeyWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyWithoutPlaintext',
  input: t.structure(dataKeyMembers),
  run: (deps, caller, input) => generateDataKey(deps, caller, input, 'GenerateDataKeyWithoutPlaintext', false),
})
