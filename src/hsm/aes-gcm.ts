import { createCipheriv, createDecipheriv } from 'node:crypto'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'

/** AES-256 key length in bytes. */
export const AES_256_KEY_BYTES = 32
/** GCM IV length in bytes (the 96-bit IV that GCM is designed for). */
export const GCM_IV_BYTES = 12
/** GCM tag length in bytes; shorter tags are never produced or accepted. */
export const GCM_TAG_BYTES = 16

/** Output of {@link aesGcmEncrypt}. */
export interface GcmOutput {
  ciphertext: Uint8Array
  tag: Uint8Array
}

/**
 * AES-256-GCM encryption with a 16-byte tag. Every symmetric operation inside the HSM goes through
 * this function and {@link aesGcmDecrypt}, so the self-tests exercise exactly what serves requests.
 */
export function aesGcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): GcmOutput {
  checkKeyAndIv(key, iv)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
  cipher.setAAD(aad)
  const head = cipher.update(plaintext)
  const tail = cipher.final()
  const ciphertext = new Uint8Array(head.length + tail.length)
  ciphertext.set(head, 0)
  ciphertext.set(tail, head.length)
  return { ciphertext, tag: new Uint8Array(cipher.getAuthTag()) }
}

/**
 * AES-256-GCM decryption. Returns the plaintext in a fresh Uint8Array, or undefined when the tag
 * does not verify; a partial plaintext produced before the tag check is zeroised.
 */
export function aesGcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  checkKeyAndIv(key, iv)
  if (tag.length !== GCM_TAG_BYTES) return undefined
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  const head = decipher.update(ciphertext)
  let tail: Buffer
  try {
    tail = decipher.final()
  } catch {
    zeroize(head)
    return undefined
  }
  const plaintext = new Uint8Array(head.length + tail.length)
  plaintext.set(head, 0)
  plaintext.set(tail, head.length)
  zeroize(head, tail)
  return plaintext
}

function checkKeyAndIv(key: Uint8Array, iv: Uint8Array): void {
  /* Precondition: An AES-256-GCM key is 32 bytes. */
  if (key.length !== AES_256_KEY_BYTES) {
    throw new KmsError('KMSInternalException', 'AES-256-GCM key must be 32 bytes')
  }
  /* Precondition: An AES-256-GCM IV is 12 bytes. */
  if (iv.length !== GCM_IV_BYTES) {
    throw new KmsError('KMSInternalException', 'AES-256-GCM IV must be 12 bytes')
  }
}
