import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { defineOperation } from '../operation.js'
import { NumberOfBytesType, RecipientInfo } from '../shapes.js'

export const generateRandom = defineOperation({
  name: 'GenerateRandom',
  input: t.structure({
    NumberOfBytes: t.optional(NumberOfBytesType),
    CustomKeyStoreId: t.optional(t.string({ min: 1, max: 64 })),
    Recipient: t.optional(RecipientInfo),
  }),
  async run(deps, _caller, input) {
    // Optional in the model, yet AWS refuses a request without it.
    if (input.NumberOfBytes === undefined) throw new KmsError('ValidationException', 'NumberOfBytes is required.')
    if (input.CustomKeyStoreId !== undefined) throw new KmsError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist.`)
    if (input.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by Trent.')
    return { Plaintext: await deps.hsm.generateRandom(input.NumberOfBytes) }
  },
})
