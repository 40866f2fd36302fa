import { constants, createDecipheriv, createPrivateKey, generateKeyPair, privateDecrypt } from 'node:crypto'
import { promisify } from 'node:util'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'
import { isKeyPairSpec, pairIsConsistent, parseKeyPair, privateKeyPkcs8, spki } from './asymmetric.js'
import { HBK_BYTES, lengthPrefixed } from './ekt.js'
import { hmacSha256, kdfCtrHmacSha256 } from './kdf.js'

/**
 * The crypto of BYOK inside the HSM: RSA wrapping keys, unwrapping material the way AWS's import
 * instructions wrap it, and the deterministic id of imported material.
 *
 * RSAES_OAEP_SHA_*: the material is RSA-OAEP encrypted (MGF1 with the same hash).
 * RSA_AES_KEY_WRAP_SHA_*: an ephemeral AES-256 key, RSA-OAEP encrypted, followed by the material
 * wrapped with it by AES key wrap with padding (RFC 5649), as PKCS #11 CKM_RSA_AES_KEY_WRAP.
 */

/** Modulus bits of each WrappingKeySpec Trent makes. */
export const WRAPPING_KEY_BITS: Readonly<Record<string, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 }

/** OAEP hash of each supported WrappingAlgorithm, and whether it wraps an AES key first. */
export const WRAPPING_ALGORITHMS: Readonly<Record<string, { hash: 'sha1' | 'sha256'; aesKeyWrap: boolean }>> = {
  RSAES_OAEP_SHA_1: { hash: 'sha1', aesKeyWrap: false },
  RSAES_OAEP_SHA_256: { hash: 'sha256', aesKeyWrap: false },
  RSA_AES_KEY_WRAP_SHA_1: { hash: 'sha1', aesKeyWrap: true },
  RSA_AES_KEY_WRAP_SHA_256: { hash: 'sha256', aesKeyWrap: true },
}

const generateKeyPairAsync = promisify(generateKeyPair)
const ID_KEY_LABEL = new TextEncoder().encode('trent-imported-hbk-id-key-v1')
const ID_LABEL = new TextEncoder().encode('trent-imported-hbk-id-v1')
/** RFC 5649's alternative initial value, which OpenSSL's id-aes256-wrap-pad takes as its IV. */
const KWP_IV = Buffer.from('a65959a6', 'hex')
const AES_256_KEY_BYTES = 32

/** A new RSA wrapping key: the public key as DER SPKI, the private key as PKCS#8 DER (the caller zeroises it). */
export async function generateWrappingKeyPair(wrappingKeySpec: string): Promise<{ publicKey: Uint8Array; pkcs8: Uint8Array }> {
  const bits = WRAPPING_KEY_BITS[wrappingKeySpec]
  /* Precondition: A wrapping key is RSA_2048, RSA_3072 or RSA_4096. */
  if (bits === undefined) throw new KmsError('UnsupportedOperationException', `WrappingKeySpec ${wrappingKeySpec} is not supported`)
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 65537,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  })
  return { publicKey: new Uint8Array(publicKey), pkcs8: owned(privateKey) }
}

/**
 * Unwraps imported key material with the wrapping private key. Every way the wrap can fail is the
 * same empty InvalidCiphertextException. The caller zeroises the result.
 */
export function unwrapImportedMaterial(pkcs8: Uint8Array, wrappingKeySpec: string, wrappingAlgorithm: string, encrypted: Uint8Array): Uint8Array {
  const algorithm = WRAPPING_ALGORITHMS[wrappingAlgorithm]
  const bits = WRAPPING_KEY_BITS[wrappingKeySpec]
  if (algorithm === undefined || bits === undefined) throw new KmsError('UnsupportedOperationException', `WrappingAlgorithm ${wrappingAlgorithm} is not supported`)
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
  const rsaDecrypt = (data: Uint8Array): Buffer => privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm.hash }, data)
  try {
    if (!algorithm.aesKeyWrap) return owned(rsaDecrypt(encrypted))
    const modulusBytes = bits / 8
    /* Precondition: An RSA-AES wrap is an RSA block followed by at least one AES key wrap block pair. */
    if (encrypted.length < modulusBytes + 16) throw new KmsError('InvalidCiphertextException')
    const aesKey = rsaDecrypt(encrypted.subarray(0, modulusBytes))
    try {
      if (aesKey.length !== AES_256_KEY_BYTES) throw new KmsError('InvalidCiphertextException')
      const decipher = createDecipheriv('id-aes256-wrap-pad', aesKey, KWP_IV)
      const parts = [decipher.update(encrypted.subarray(modulusBytes)), decipher.final()]
      const material = owned(Buffer.concat(parts))
      zeroize(...parts)
      return material
    } finally {
      zeroize(aesKey)
    }
  } catch {
    throw new KmsError('InvalidCiphertextException')
  }
}

/**
 * HMAC key material accepted for import, in bytes: at least the hash's output and at most its
 * block size. Our reading of AWS's "Requirements for imported key material", not confirmed.
 */
const HMAC_IMPORT_BYTES: Readonly<Partial<Record<string, { min: number; max: number }>>> = {
  HMAC_224: { min: 28, max: 64 },
  HMAC_256: { min: 32, max: 64 },
  HMAC_384: { min: 48, max: 128 },
  HMAC_512: { min: 64, max: 128 },
}

/**
 * The HBK that imported material of `keySpec` becomes, and the bytes its id is derived from; or
 * IncorrectKeyMaterialException. Symmetric material (32 bytes) and HMAC material (raw key bytes)
 * are the HBK and its own identity. Asymmetric material is a DER PKCS#8 private key of the key
 * spec's type and size that passes a pairwise consistency test; its HBK is the key as the HSM
 * encodes the keys it generates (so Sign, GetPublicKey and the rest take it as they take those),
 * and its identity is its public key (SPKI): PKCS#8 has several encodings of one key (the public
 * key inside is optional), and the same key must get the same id whichever one the customer sends.
 * The HBK may be `material` itself; the caller zeroises both.
 */
export function importedHbk(keySpec: string, material: Uint8Array): { hbk: Uint8Array; identity: Uint8Array } {
  const hmacBytes = HMAC_IMPORT_BYTES[keySpec]
  // Guessed wording (all IncorrectKeyMaterialException messages)
  if (keySpec === 'SYMMETRIC_DEFAULT') {
    if (material.length !== HBK_BYTES) throw new KmsError('IncorrectKeyMaterialException', 'Symmetric key material must be 256 bits (32 bytes).')
    return { hbk: material, identity: material }
  }
  if (hmacBytes !== undefined) {
    if (material.length < hmacBytes.min || material.length > hmacBytes.max) {
      throw new KmsError('IncorrectKeyMaterialException', `${keySpec} key material must be ${hmacBytes.min * 8} to ${hmacBytes.max * 8} bits.`)
    }
    return { hbk: material, identity: material }
  }
  if (!isKeyPairSpec(keySpec)) {
    throw new KmsError('UnsupportedOperationException', `Importing ${keySpec} key material is not supported by this Trent version.`)
  }
  const pair = parseKeyPair(material, keySpec)
  if (pair === undefined || !pairIsConsistent(pair)) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is not a DER-encoded PKCS #8 private key of key spec ${keySpec}.`)
  }
  return { hbk: privateKeyPkcs8(pair), identity: spki(pair.publicKey) }
}

/**
 * The id of imported material: HMAC-SHA256 over the key ARN and the material's identity (the
 * material itself, or an asymmetric key's public key), under a key derived from a domain secret.
 * Deterministic, so importing the same material again finds the same HBK and every old ciphertext
 * decrypts; keyed, so the id written in clear into every ciphertext blob is no fingerprint of the
 * material (nobody can test a guess of it offline) and the same material in two keys gets
 * unrelated ids.
 */
export function importedHbkId(domainSecret: Uint8Array, domainId: Uint8Array, keyArn: string, identity: Uint8Array): Uint8Array {
  const idKey = kdfCtrHmacSha256(domainSecret, ID_KEY_LABEL, domainId, 32)
  try {
    return hmacSha256(idKey, lengthPrefixed([ID_LABEL, new TextEncoder().encode(keyArn), identity]))
  } finally {
    zeroize(idKey)
  }
}

/** A plain Uint8Array copy of a Buffer, the Buffer zeroised. */
function owned(buffer: Buffer): Uint8Array {
  const out = new Uint8Array(buffer)
  zeroize(buffer)
  return out
}
