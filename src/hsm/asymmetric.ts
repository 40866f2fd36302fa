import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto'
import { promisify } from 'node:util'
import { KmsError } from '../core/errors.js'
import { SIGNING_HASH, assertAlgorithm, type SigningAlgorithm } from '../core/key-specs.js'
import { signEcdsaDigest, signPkcs1Digest, signPssDigest, verifyEcdsaDigest, verifyPkcs1Digest, verifyPssDigest } from './prehashed.js'

/**
 * The asymmetric and HMAC primitives of the software HSM: key generation, signing, RSA-OAEP, ECDH
 * and HMAC, on node:crypto (OpenSSL). Private keys travel only as PKCS#8 DER inside EKTs.
 */

const generateKeyPairAsync = promisify(generateKeyPair)

/** Largest message Sign, Verify, GenerateMac and VerifyMac take. */
export const MAX_MESSAGE_BYTES = 4096

/** OpenSSL curve names of the EC key specs. */
const EC_CURVES: Readonly<Partial<Record<string, string>>> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
}
const RSA_BITS: Readonly<Partial<Record<string, number>>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 }
const HMAC_BYTES: Readonly<Partial<Record<string, number>>> = { HMAC_224: 28, HMAC_256: 32, HMAC_384: 48, HMAC_512: 64 }
const MAC_HASH: Readonly<Record<string, string>> = {
  HMAC_SHA_224: 'sha224',
  HMAC_SHA_256: 'sha256',
  HMAC_SHA_384: 'sha384',
  HMAC_SHA_512: 'sha512',
}
const OAEP_HASH: Readonly<Record<string, { hash: string; bytes: number }>> = {
  RSAES_OAEP_SHA_1: { hash: 'sha1', bytes: 20 },
  RSAES_OAEP_SHA_256: { hash: 'sha256', bytes: 32 },
}

/** A parsed key pair as the HSM caches it. */
export interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

/** Whether the HSM makes a key pair (PKCS#8 in the EKT) for this spec. */
export function isKeyPairSpec(keySpec: string): boolean {
  return keySpec in EC_CURVES || keySpec in RSA_BITS || keySpec === 'ECC_NIST_EDWARDS25519'
}

/** The HMAC key length of an HMAC spec (as long as the hash), or undefined. */
export function hmacKeyBytes(keySpec: string): number | undefined {
  return HMAC_BYTES[keySpec]
}

/**
 * Generates a key pair for a spec and returns its private key as PKCS#8 DER (the caller zeroises
 * it). OpenSSL runs on the libuv thread pool, so an RSA-4096 generation does not stall the HSM's
 * other requests.
 */
export async function generatePrivateKey(keySpec: string): Promise<Uint8Array> {
  const curve = EC_CURVES[keySpec]
  const bits = RSA_BITS[keySpec]
  let privateKey: KeyObject
  if (curve !== undefined) ({ privateKey } = await generateKeyPairAsync('ec', { namedCurve: curve }))
  else if (bits !== undefined) ({ privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 }))
  else if (keySpec === 'ECC_NIST_EDWARDS25519') ({ privateKey } = await generateKeyPairAsync('ed25519'))
  else throw new KmsError('UnsupportedOperationException', `The software HSM cannot generate ${keySpec} key material`)
  return privateKeyPkcs8({ privateKey })
}

/** The private key as PKCS#8 DER, the one encoding EKTs hold (the caller zeroises it). */
export function privateKeyPkcs8(pair: Pick<KeyPair, 'privateKey'>): Uint8Array {
  const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' })
  const out = new Uint8Array(der)
  der.fill(0)
  return out
}

const CONSISTENCY_MESSAGE = new TextEncoder().encode('trent pairwise consistency test')

/**
 * Pairwise consistency test (FIPS 140-3 §9.8) for a key pair from outside the HSM: a signature by
 * the private key verifies under the public key. Catches a PKCS#8 whose embedded public key or
 * RSA CRT values do not belong to its private key.
 */
export function pairIsConsistent(pair: KeyPair): boolean {
  const hash = pair.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  try {
    return nodeVerify(hash, CONSISTENCY_MESSAGE, pair.publicKey, nodeSign(hash, CONSISTENCY_MESSAGE, pair.privateKey))
  } catch {
    return false
  }
}

/** Parses PKCS#8 DER into a key pair; undefined when it is not a key of `keySpec`. */
export function parseKeyPair(pkcs8: Uint8Array, keySpec: string): KeyPair | undefined {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
  } catch {
    return undefined
  }
  const details = privateKey.asymmetricKeyDetails
  const matches =
    (privateKey.asymmetricKeyType === 'rsa' && details?.modulusLength === RSA_BITS[keySpec]) ||
    (privateKey.asymmetricKeyType === 'ec' && details?.namedCurve === EC_CURVES[keySpec]) ||
    (privateKey.asymmetricKeyType === 'ed25519' && keySpec === 'ECC_NIST_EDWARDS25519')
  return matches ? { privateKey, publicKey: createPublicKey(privateKey) } : undefined
}

/** DER SubjectPublicKeyInfo of a public key. */
export function spki(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))
}

/**
 * Checks a Sign/Verify message against its type and algorithm (AWS's rules): RAW up to 4096 bytes,
 * DIGEST exactly the hash length, EXTERNAL_MU only for ML-DSA; ED25519_SHA_512 takes RAW only and
 * ED25519_PH_SHA_512 DIGEST only.
 */
export function checkSignInput(keySpec: string, algorithm: string, messageType: string, message: Uint8Array): void {
  assertAlgorithm(keySpec, 'signingAlgorithms', algorithm)
  if (messageType === 'EXTERNAL_MU') {
    // AWS's wording for the converse: "Message type DIGEST is incompatible with key spec ML_DSA_44."
    throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with key spec ${keySpec}.`)
  }
  if ((algorithm === 'ED25519_SHA_512' && messageType !== 'RAW') || (algorithm === 'ED25519_PH_SHA_512' && messageType !== 'DIGEST')) {
    // The rule is AWS's (API reference, CreateKey's KeySpec); guessed wording, after the key spec message above.
    throw new KmsError('ValidationException', `Message type ${messageType} is incompatible with signing algorithm ${algorithm}.`)
  }
  if (messageType === 'RAW' && message.length > MAX_MESSAGE_BYTES) {
    throw new KmsError('ValidationException', `Message must be at most ${MAX_MESSAGE_BYTES} bytes for message type RAW.`) // Guessed wording
  }
  const hash = SIGNING_HASH[algorithm as SigningAlgorithm]
  if (messageType === 'DIGEST' && message.length !== hash?.digestBytes) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`)
  }
  if (algorithm === 'ED25519_PH_SHA_512') {
    // Ed25519ph (RFC 8032 §5.1) needs OpenSSL 3.2; Node 20 ships 3.0.
    throw new KmsError('UnsupportedOperationException', 'ED25519_PH_SHA_512 is not supported by this Trent version.')
  }
}

/** Signs a checked message; `random` feeds the per-signature secrets of prehashed PSS and ECDSA. */
export function signWith(pair: KeyPair, algorithm: string, messageType: string, message: Uint8Array, random: (n: number) => Uint8Array): Uint8Array {
  const key = pair.privateKey
  if (algorithm === 'ED25519_SHA_512') return new Uint8Array(nodeSign(null, message, key))
  const { hash, digestBytes } = SIGNING_HASH[algorithm as SigningAlgorithm]!
  if (messageType === 'RAW') return new Uint8Array(nodeSign(hash, message, { key, ...rawOptions(algorithm) }))
  if (algorithm.startsWith('RSASSA_PSS')) return signPssDigest(key, hash, message, random(digestBytes))
  if (algorithm.startsWith('RSASSA_PKCS1')) return signPkcs1Digest(key, hash, message)
  return signEcdsaDigest(key, message, random)
}

/** Verifies a signature over a checked message with the public key. */
export function verifyWith(pair: KeyPair, algorithm: string, messageType: string, message: Uint8Array, signature: Uint8Array): boolean {
  const key = pair.publicKey
  try {
    if (algorithm === 'ED25519_SHA_512') return nodeVerify(null, message, key, signature)
    const { hash } = SIGNING_HASH[algorithm as SigningAlgorithm]!
    if (messageType === 'RAW') return nodeVerify(hash, message, { key, ...rawOptions(algorithm) }, signature)
    if (algorithm.startsWith('RSASSA_PSS')) return verifyPssDigest(key, hash, message, signature)
    if (algorithm.startsWith('RSASSA_PKCS1')) return verifyPkcs1Digest(key, hash, message, signature)
    return verifyEcdsaDigest(key, message, signature)
  } catch {
    return false
  }
}

function rawOptions(algorithm: string): object {
  if (algorithm.startsWith('RSASSA_PSS')) return { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
  if (algorithm.startsWith('RSASSA_PKCS1')) return { padding: constants.RSA_PKCS1_PADDING }
  return { dsaEncoding: 'der' }
}

/** The largest plaintext RSAES-OAEP takes: k − 2·hLen − 2 (RFC 8017 §7.1.1). */
export function oaepMaxPlaintext(pair: KeyPair, algorithm: string): number {
  const k = (pair.publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8
  return k - 2 * OAEP_HASH[algorithm]!.bytes - 2
}

/** RSAES-OAEP encryption (same hash for OAEP and MGF1, empty label), with AWS's plaintext limit. */
export function oaepEncrypt(pair: KeyPair, keySpec: string, algorithm: string, plaintext: Uint8Array): Uint8Array {
  assertAlgorithm(keySpec, 'encryptionAlgorithms', algorithm)
  const max = oaepMaxPlaintext(pair, algorithm)
  if (plaintext.length > max) {
    throw new KmsError('ValidationException', `Algorithm ${algorithm} and key spec ${keySpec} cannot encrypt data larger than ${max} bytes.`)
  }
  const { hash } = OAEP_HASH[algorithm]!
  return new Uint8Array(publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext))
}

/** RSAES-OAEP decryption; every failure is the same empty InvalidCiphertextException. */
export function oaepDecrypt(pair: KeyPair, keySpec: string, algorithm: string, ciphertext: Uint8Array): Uint8Array {
  assertAlgorithm(keySpec, 'encryptionAlgorithms', algorithm)
  const { hash } = OAEP_HASH[algorithm]!
  try {
    return new Uint8Array(privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext))
  } catch {
    throw new KmsError('InvalidCiphertextException')
  }
}

/** HMAC of a message under an HMAC key of `keySpec`. */
export function hmac(keySpec: string, algorithm: string, key: Uint8Array, message: Uint8Array): Uint8Array {
  assertAlgorithm(keySpec, 'macAlgorithms', algorithm)
  return new Uint8Array(createHmac(MAC_HASH[algorithm]!, key).update(message).digest())
}

/** Raw ECDH shared secret with a peer's DER SPKI public key on the same curve. */
export function ecdh(pair: KeyPair, peerPublicKey: Uint8Array): Uint8Array {
  let peer: KeyObject
  try {
    peer = createPublicKey({ key: Buffer.from(peerPublicKey), format: 'der', type: 'spki' })
    if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== pair.privateKey.asymmetricKeyDetails?.namedCurve) throw new Error('another curve')
  } catch {
    // AWS answers an unusable public key, another curve's included, with an empty ValidationException.
    throw new KmsError('ValidationException', '')
  }
  return new Uint8Array(diffieHellman({ privateKey: pair.privateKey, publicKey: peer }))
}
