import type { KeyBinding } from './hsm.js'
import { KmsError } from '../core/errors.js'
import { AES_256_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'
import { HBK_ID_BYTES } from './blob.js'

/** First byte of a version 1 EKT and of a version 1 wrapped credential. */
export const WRAP_V1 = 0x01
/** Length of a domain key id. */
export const DOMAIN_KEY_ID_BYTES = 16
/** Length of an HBK. */
export const HBK_BYTES = 32
/** Length of a v1 EKT of a symmetric key: version, domain key id, IV, wrapped HBK, tag. */
export const EKT_V1_BYTES = 1 + DOMAIN_KEY_ID_BYTES + GCM_IV_BYTES + HBK_BYTES + GCM_TAG_BYTES
/**
 * Largest key material an EKT of another spec carries (a PKCS#8 RSA-4096 private key is about
 * 2.4 KB, an HMAC key at most 64 bytes). Same layout; the key spec in the AAD tells them apart.
 */
export const MAX_EKT_MATERIAL_BYTES = 8192

const WRAP_HEADER_BYTES = 1 + DOMAIN_KEY_ID_BYTES + GCM_IV_BYTES
const utf8 = new TextEncoder()
// Both formats are AES-GCM under the same domain keys; distinct labels keep one from passing as the other.
const EKT_LABEL = utf8.encode('trent-ekt-v1')
const CREDENTIAL_LABEL = utf8.encode('trent-credential-v1')
const IMPORT_KEY_LABEL = utf8.encode('trent-import-wrapping-key-v1')
const AUDIT_KEY_LABEL = utf8.encode('trent-audit-signing-key-v1')

/** A domain key as the HSM holds it in memory. */
export interface DomainKeyHandle {
  /** 16-byte domain key id, written in clear into every EKT it wraps. */
  id: Uint8Array
  /** 32-byte AES-256 key. */
  key: Uint8Array
}

/** What an EKT is bound to: the key it belongs to and the id of the HBK it carries. */
export interface EktBinding extends KeyBinding {
  hbkId: Uint8Array
}

/** Finds a loaded domain key's bytes by id; undefined when this HSM does not hold that key. */
export type DomainKeyLookup = (id: Uint8Array) => Uint8Array | undefined

/**
 * Unambiguous concatenation of byte fields: each as a big-endian uint16 length and the bytes.
 * Throws KMSInternalException for a field over 65535 bytes.
 */
export function lengthPrefixed(fields: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const f of fields) {
    /* Precondition: A length-prefixed field is at most 65535 bytes. */
    if (f.length > 0xffff) throw new KmsError('KMSInternalException', 'Bound field exceeds 65535 bytes')
    size += 2 + f.length
  }
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  let offset = 0
  for (const f of fields) {
    view.setUint16(offset, f.length)
    out.set(f, offset + 2)
    offset += 2 + f.length
  }
  return out
}

/**
 * The additional authenticated data of a v1 EKT: label, domain key id, key ARN, HBK id, key spec
 * and origin, length-prefixed. Also usable as a cache key, since it names everything an unwrap
 * depends on besides the EKT bytes.
 */
export function ektAad(domainKeyId: Uint8Array, binding: EktBinding): Uint8Array {
  return lengthPrefixed([
    EKT_LABEL,
    domainKeyId,
    utf8.encode(binding.keyArn),
    binding.hbkId,
    utf8.encode(binding.keySpec),
    utf8.encode(binding.origin),
  ])
}

/**
 * Wraps an HBK under a domain key: `0x01 || domainKeyId (16) || iv (12) || AES-256-GCM(hbk) (32) ||
 * tag (16)`, with {@link ektAad} as AAD. For a key spec other than SYMMETRIC_DEFAULT the wrapped
 * material is that key's secret (a PKCS#8 private key or an HMAC key) of 1 to 8192 bytes.
 */
export function wrapEkt(
  domainKey: DomainKeyHandle,
  hbk: Uint8Array,
  binding: EktBinding,
  iv: Uint8Array,
): Uint8Array {
  /* Precondition: An HBK to wrap is 32 bytes; other key material 1 to 8192 bytes. */
  if (!materialLengthFits(binding.keySpec, hbk.length)) throw new KmsError('KMSInternalException', 'HBK must be 32 bytes')
  /* Precondition: The HBK id bound into an EKT is 32 bytes. */
  if (binding.hbkId.length !== HBK_ID_BYTES) {
    throw new KmsError('KMSInternalException', 'HBK id must be 32 bytes')
  }
  return wrapV1(domainKey, hbk, ektAad(domainKey.id, binding), iv)
}

/**
 * Unwraps an EKT presented for `binding`. Returns the HBK in a fresh Uint8Array, or undefined when
 * the EKT is malformed, names a domain key this HSM does not hold, or does not authenticate for
 * this binding (another key's EKT, another ARN, spec, origin or HBK id).
 */
export function unwrapEkt(
  ekt: Uint8Array,
  lookup: DomainKeyLookup,
  binding: EktBinding,
): Uint8Array | undefined {
  /* Precondition: An EKT to unwrap is exactly 77 bytes, or carries 1 to 8192 bytes of other key material. */
  if (!materialLengthFits(binding.keySpec, ekt.length - (EKT_V1_BYTES - HBK_BYTES))) return undefined
  return unwrapV1(ekt, lookup, (id) => ektAad(id, binding))
}

function materialLengthFits(keySpec: string, length: number): boolean {
  return keySpec === 'SYMMETRIC_DEFAULT' ? length === HBK_BYTES : length >= 1 && length <= MAX_EKT_MATERIAL_BYTES
}

/** The domain key id an EKT or wrapped credential names, or undefined when it is not a v1 wrap. */
export function wrappedDomainKeyId(wrapped: Uint8Array): Uint8Array | undefined {
  if (wrapped.length < WRAP_HEADER_BYTES + GCM_TAG_BYTES || wrapped[0] !== WRAP_V1) return undefined
  return wrapped.subarray(1, 1 + DOMAIN_KEY_ID_BYTES)
}

/** The additional authenticated data of a v1 wrapped credential: label, domain key id, access key id. */
export function credentialAad(domainKeyId: Uint8Array, accessKeyId: string): Uint8Array {
  return lengthPrefixed([CREDENTIAL_LABEL, domainKeyId, utf8.encode(accessKeyId)])
}

/**
 * Wraps a SigV4 secret access key under a domain key, bound to its access key id. Same layout as
 * an EKT with the secret in place of the HBK and {@link credentialAad} as AAD.
 */
export function wrapCredential(
  domainKey: DomainKeyHandle,
  accessKeyId: string,
  secret: Uint8Array,
  iv: Uint8Array,
): Uint8Array {
  return wrapV1(domainKey, secret, credentialAad(domainKey.id, accessKeyId), iv)
}

/** Unwraps a credential wrapped by {@link wrapCredential} for `accessKeyId`; undefined on any failure. */
export function unwrapCredential(
  wrapped: Uint8Array,
  lookup: DomainKeyLookup,
  accessKeyId: string,
): Uint8Array | undefined {
  return unwrapV1(wrapped, lookup, (id) => credentialAad(id, accessKeyId))
}

/** The additional authenticated data of a v1 wrapped import key: label, domain key id, key ARN, wrapping key spec. */
export function importKeyAad(domainKeyId: Uint8Array, keyArn: string, wrappingKeySpec: string): Uint8Array {
  return lengthPrefixed([IMPORT_KEY_LABEL, domainKeyId, utf8.encode(keyArn), utf8.encode(wrappingKeySpec)])
}

/**
 * Wraps the private half (PKCS#8 DER) of an import wrapping key under a domain key, bound to the
 * KMS key it is for and its spec. Same layout as an EKT with {@link importKeyAad} as AAD.
 */
export function wrapImportKey(domainKey: DomainKeyHandle, keyArn: string, wrappingKeySpec: string, pkcs8: Uint8Array, iv: Uint8Array): Uint8Array {
  return wrapV1(domainKey, pkcs8, importKeyAad(domainKey.id, keyArn, wrappingKeySpec), iv)
}

/** Unwraps a key wrapped by {@link wrapImportKey} for `keyArn` and `wrappingKeySpec`; undefined on any failure. */
export function unwrapImportKey(wrapped: Uint8Array, lookup: DomainKeyLookup, keyArn: string, wrappingKeySpec: string): Uint8Array | undefined {
  return unwrapV1(wrapped, lookup, (id) => importKeyAad(id, keyArn, wrappingKeySpec))
}

/** Wraps the audit signing key (PKCS#8 DER) under a domain key; same layout as a wrapped credential. */
export function wrapAuditKey(domainKey: DomainKeyHandle, pkcs8: Uint8Array, iv: Uint8Array): Uint8Array {
  return wrapV1(domainKey, pkcs8, lengthPrefixed([AUDIT_KEY_LABEL, domainKey.id]), iv)
}

/** Unwraps an audit signing key wrapped by {@link wrapAuditKey}; undefined on any failure. */
export function unwrapAuditKey(wrapped: Uint8Array, lookup: DomainKeyLookup): Uint8Array | undefined {
  return unwrapV1(wrapped, lookup, (id) => lengthPrefixed([AUDIT_KEY_LABEL, id]))
}

function wrapV1(domainKey: DomainKeyHandle, secret: Uint8Array, aad: Uint8Array, iv: Uint8Array): Uint8Array {
  /* Precondition: A wrapping domain key has a 16-byte id and a 32-byte key. */
  if (domainKey.id.length !== DOMAIN_KEY_ID_BYTES || domainKey.key.length !== AES_256_KEY_BYTES) {
    throw new KmsError('KMSInternalException', 'Domain key must have a 16-byte id and a 32-byte key')
  }
  const { ciphertext, tag } = aesGcmEncrypt(domainKey.key, iv, secret, aad)
  const out = new Uint8Array(WRAP_HEADER_BYTES + ciphertext.length + GCM_TAG_BYTES)
  out[0] = WRAP_V1
  out.set(domainKey.id, 1)
  out.set(iv, 1 + DOMAIN_KEY_ID_BYTES)
  out.set(ciphertext, WRAP_HEADER_BYTES)
  out.set(tag, WRAP_HEADER_BYTES + ciphertext.length)
  return out
}

function unwrapV1(
  wrapped: Uint8Array,
  lookup: DomainKeyLookup,
  aadFor: (domainKeyId: Uint8Array) => Uint8Array,
): Uint8Array | undefined {
  const domainKeyId = wrappedDomainKeyId(wrapped)
  if (domainKeyId === undefined) return undefined
  const key = lookup(domainKeyId)
  if (key === undefined) return undefined
  return aesGcmDecrypt(
    key,
    wrapped.subarray(1 + DOMAIN_KEY_ID_BYTES, WRAP_HEADER_BYTES),
    wrapped.subarray(WRAP_HEADER_BYTES, wrapped.length - GCM_TAG_BYTES),
    wrapped.subarray(wrapped.length - GCM_TAG_BYTES),
    aadFor(domainKeyId),
  )
}
