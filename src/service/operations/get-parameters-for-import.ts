import { createHash, randomBytes } from 'node:crypto'
import { KmsError } from '../../core/errors.js'
import { t } from '../../core/shape.js'
import { authorize } from '../authorize.js'
import { DAY_MS, assertExternal } from '../key-material.js'
import { assertKeyState } from '../key-state.js'
import { defineOperation } from '../operation.js'
import { resolveKey } from '../resolve-key.js'
import { KeyIdType } from '../shapes.js'

/** How long an import token and its public key may be used (ParametersValidTo). */
export const IMPORT_PARAMETERS_VALID_MS = DAY_MS

export const getParametersForImport = defineOperation({
  name: 'GetParametersForImport',
  input: t.structure({
    KeyId: t.required(KeyIdType),
    WrappingAlgorithm: t.required(
      t.enum(['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE']),
    ),
    WrappingKeySpec: t.required(t.enum(['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'])),
  }),
  async run(deps, caller, input) {
    const key = await resolveKey(deps, caller, input.KeyId, { allowAlias: false })
    await authorize(deps, caller, key, 'kms:GetParametersForImport')
    assertExternal(key)
    assertKeyState(key, 'importMaterial')
    if (input.WrappingAlgorithm === 'RSAES_PKCS1_V1_5') {
      // Withdrawn by AWS on 10 October 2023. Guessed wording
      throw new KmsError('UnsupportedOperationException', 'The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.')
    }
    if (input.WrappingAlgorithm === 'SM2PKE' || input.WrappingKeySpec === 'SM2') {
      // Guessed wording
      throw new KmsError('UnsupportedOperationException', 'SM2 wrapping keys are available only in China Regions.')
    }
    assertWrappingFits(key.keySpec, input.WrappingKeySpec, input.WrappingAlgorithm)
    const wrappingKey = await deps.hsm.generateWrappingKey({ keyArn: key.arn, keyId: key.keyId, keySpec: key.keySpec, origin: key.origin }, input.WrappingKeySpec)
    const token = randomBytes(64)
    const validTo = deps.clock.now() + IMPORT_PARAMETERS_VALID_MS
    await deps.store.putImportToken({
      tokenHash: importTokenHash(token),
      keyId: key.keyId,
      wrappingKeySpec: input.WrappingKeySpec,
      wrappingAlgorithm: input.WrappingAlgorithm,
      wrappedPrivateKey: wrappingKey.wrappedPrivateKey,
      validTo,
    })
    return { KeyId: key.arn, ImportToken: new Uint8Array(token), PublicKey: wrappingKey.publicKey, ParametersValidTo: validTo / 1000 }
  },
})

/**
 * AWS's "Select a wrapping algorithm": RSAES_OAEP_* encrypts the material in one RSA block, too
 * small for an RSA private key in PKCS #8 (which needs RSA_AES_KEY_WRAP_*), and, with an RSA_2048
 * wrapping key, for an ECC_NIST_P521 one. Refused here, before the customer wraps anything.
 */
function assertWrappingFits(keySpec: string, wrappingKeySpec: string, wrappingAlgorithm: string): void {
  if (!wrappingAlgorithm.startsWith('RSAES_OAEP')) return
  if (keySpec.startsWith('RSA_') || (keySpec === 'ECC_NIST_P521' && wrappingKeySpec === 'RSA_2048')) {
    // Guessed wording
    throw new KmsError(
      'ValidationException',
      `Wrapping algorithm ${wrappingAlgorithm} with wrapping key spec ${wrappingKeySpec} cannot wrap ${keySpec} key material. Use RSA_AES_KEY_WRAP_SHA_256.`,
    )
  }
}

/** The store keeps only the SHA-256 of an import token. */
export function importTokenHash(token: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(token).digest())
}
