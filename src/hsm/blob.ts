import { KmsError } from '../core/errors.js'
import { isKeyId } from '../core/arn.js'
import { GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js'

/** First byte of a version 1 ciphertext blob. */
export const BLOB_V1 = 0x01
/** Largest ciphertext blob the API accepts (CiphertextBlob is 1..6144 bytes). */
export const MAX_BLOB_BYTES = 6144
/** Length of an HBK id. */
export const HBK_ID_BYTES = 32
/** Length of the per-request KDF nonce. */
export const KDF_NONCE_BYTES = 16
/** Length of every key id Trent writes (a UUID, or `mrk-` and 32 hex digits). */
const KEY_ID_CHARS = 36
/** Header length of a v1 blob with a 36-character key id: 1 + 1 + 36 + 32 + 16 + 12. */
export const BLOB_V1_HEADER_BYTES = 2 + KEY_ID_CHARS + HBK_ID_BYTES + KDF_NONCE_BYTES + GCM_IV_BYTES
/** Bytes a v1 blob adds to its plaintext: header and tag. */
export const BLOB_V1_OVERHEAD_BYTES = BLOB_V1_HEADER_BYTES + GCM_TAG_BYTES

/** The cleartext header fields of a v1 blob. */
export interface BlobHeaderFields {
  keyId: string
  hbkId: Uint8Array
  nonce: Uint8Array
  iv: Uint8Array
}

/** A decoded v1 blob. The byte fields are views into the blob that was decoded. */
export interface DecodedBlob extends BlobHeaderFields {
  /** Every byte before the ciphertext; authenticated as the first part of the AAD. */
  header: Uint8Array
  ciphertext: Uint8Array
  tag: Uint8Array
}

/**
 * What the front end needs to find the key for Decrypt: the key id and the HBK id written in a
 * blob. Pure and total: any malformed input, of any type, gives undefined. A result says nothing
 * about whether the blob is authentic; only the HSM can tell that.
 */
export function parseBlobHeader(blob: unknown): { keyId: string; hbkId: Uint8Array } | undefined {
  const decoded = decodeBlob(blob)
  if (decoded === undefined) return undefined
  return { keyId: decoded.keyId, hbkId: copyBytes(decoded.hbkId) }
}

/**
 * Splits a v1 blob into its fields, checking every bound: `version 0x01 || uint8 keyIdLen || keyId
 * (ASCII) || hbkId (32) || nonce (16) || iv (12) || ciphertext || tag (16)`. Returns undefined for
 * anything that is not such a blob; never throws.
 */
export function decodeBlob(blob: unknown): DecodedBlob | undefined {
  /* Precondition: A blob to decode is a Uint8Array of at most 6144 bytes. */
  if (!(blob instanceof Uint8Array) || blob.length > MAX_BLOB_BYTES) return undefined
  /* Precondition: A blob to decode starts with version 1. */
  if (blob.length < 2 || blob[0] !== BLOB_V1) return undefined
  const keyIdLength = blob[1] as number
  const headerLength = 2 + keyIdLength + HBK_ID_BYTES + KDF_NONCE_BYTES + GCM_IV_BYTES
  /* Precondition: A blob to decode is long enough for its header and tag. */
  if (blob.length < headerLength + GCM_TAG_BYTES) return undefined
  let keyId = ''
  for (let i = 2; i < 2 + keyIdLength; i++) keyId += String.fromCharCode(blob[i] as number)
  /* Precondition: The key id in a blob to decode is a well-formed key id. */
  if (!isKeyId(keyId)) return undefined

  let offset = 2 + keyIdLength
  const hbkId = blob.subarray(offset, (offset += HBK_ID_BYTES))
  const nonce = blob.subarray(offset, (offset += KDF_NONCE_BYTES))
  const iv = blob.subarray(offset, (offset += GCM_IV_BYTES))
  return {
    keyId,
    hbkId,
    nonce,
    iv,
    header: blob.subarray(0, headerLength),
    ciphertext: blob.subarray(headerLength, blob.length - GCM_TAG_BYTES),
    tag: blob.subarray(blob.length - GCM_TAG_BYTES),
  }
}

/** Builds the cleartext header of a v1 blob. Throws KMSInternalException for malformed fields. */
export function encodeBlobHeader(fields: BlobHeaderFields): Uint8Array {
  /* Precondition: The key id written into a blob is a well-formed key id. */
  if (!isKeyId(fields.keyId)) {
    throw new KmsError('KMSInternalException', 'Blob key id is not a well-formed key id')
  }
  /* Precondition: The header fields of a blob have their fixed lengths. */
  if (
    fields.hbkId.length !== HBK_ID_BYTES ||
    fields.nonce.length !== KDF_NONCE_BYTES ||
    fields.iv.length !== GCM_IV_BYTES
  ) {
    throw new KmsError('KMSInternalException', 'Blob header field has the wrong length')
  }
  const header = new Uint8Array(2 + fields.keyId.length + HBK_ID_BYTES + KDF_NONCE_BYTES + GCM_IV_BYTES)
  header[0] = BLOB_V1
  header[1] = fields.keyId.length
  let offset = 2
  for (let i = 0; i < fields.keyId.length; i++) header[offset++] = fields.keyId.charCodeAt(i)
  header.set(fields.hbkId, offset)
  header.set(fields.nonce, (offset += HBK_ID_BYTES))
  header.set(fields.iv, (offset += KDF_NONCE_BYTES))
  return header
}

/** Concatenates header, ciphertext and tag into a blob. Throws KMSInternalException past 6144 bytes. */
export function assembleBlob(header: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Uint8Array {
  const length = header.length + ciphertext.length + tag.length
  /* Precondition: An assembled blob is at most 6144 bytes. */
  if (length > MAX_BLOB_BYTES) {
    throw new KmsError('KMSInternalException', 'Ciphertext blob would exceed 6144 bytes')
  }
  const blob = new Uint8Array(length)
  blob.set(header, 0)
  blob.set(ciphertext, header.length)
  blob.set(tag, header.length + ciphertext.length)
  return blob
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}
