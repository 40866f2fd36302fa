import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { dataKeyMembers, generateDataKey as makeDataKey } from '../data-key.js'
import { RecipientInfo } from '../shapes.js'
import { defineOperation } from '../operation.js'

export const generateDataKey = defineOperation({
  name: 'GenerateDataKey',
  input: t.structure({ ...dataKeyMembers, Recipient: t.optional(RecipientInfo) }),
  async run(deps, caller, input) {
    if (input.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Trent.')
    return makeDataKey(deps, caller, input, 'GenerateDataKey', true)
  },
})
