import { KmsError } from '../../core/errors.js'
import { algorithmLists, isAsymmetric } from '../../core/key-specs.js'
import { t } from '../../core/shape.js'
import { KEY_USAGES } from '../../core/types.js'
import { keyForOperation } from '../asymmetric.js'
import { defineOperation } from '../operation.js'
import { GrantTokenList, KeyIdType } from '../shapes.js'

export const getPublicKey = defineOperation({
  name: 'GetPublicKey',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    GrantTokens: t.optional(GrantTokenList),
  }),
  async run(deps, caller, input) {
    const { key, material } = await keyForOperation(deps, caller, input, 'GetPublicKey', KEY_USAGES)
    if (!isAsymmetric(key.keySpec)) {
      // AWS's API model lists UnsupportedOperationException for GetPublicKey; which exception a symmetric or
      // HMAC key gets is unconfirmed. Guessed wording
      throw new KmsError('UnsupportedOperationException', `${key.arn} key spec ${key.keySpec} is not valid for GetPublicKey.`)
    }
    return {
      KeyId: key.arn,
      PublicKey: await deps.hsm.getPublicKey(material),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmLists(key.keySpec, key.keyUsage),
    }
  },
})
