import type { EncryptionContext } from '../core/types.js'
import { KmsError } from '../core/errors.js'

/** Largest key or value, in UTF-8 bytes, that the uint16 length field can carry. */
export const MAX_CONTEXT_FIELD_BYTES = 0xffff
/** Largest number of pairs that the uint16 count field can carry. */
export const MAX_CONTEXT_PAIRS = 0xffff

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Canonical, unambiguous byte encoding of an encryption context, used as part of the AEAD's
 * additional authenticated data:
 *
 * `uint16 count || (uint16 keyLen || key || uint16 valueLen || value)*`, big-endian, with pairs
 * sorted by the UTF-8 bytes of their keys (byte-wise, shorter prefix first).
 *
 * This is the ESDK's serialisation with one difference: the empty context encodes as the two bytes
 * `00 00` rather than as nothing, so every encoding is self-delimiting.
 *
 * Two contexts encode the same iff they are equal as maps; pair order in the input does not
 * matter. Throws `ValidationException` for contexts the encoding cannot represent.
 */
export function encodeEncryptionContext(context: EncryptionContext): Uint8Array {
  /* Precondition: An encryption context is a plain object. */
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new KmsError('ValidationException', 'Encryption context must be a map of strings to strings')
  }
  const entries = Object.entries(context)
  /* Precondition: An encryption context has at most 65535 pairs. */
  if (entries.length > MAX_CONTEXT_PAIRS) {
    throw new KmsError(
      'ValidationException',
      `Encryption context has ${entries.length} pairs; at most ${MAX_CONTEXT_PAIRS} are allowed`,
    )
  }
  const ascii = encodeAsciiContext(entries)
  if (ascii !== undefined) return ascii
  const pairs: Array<[Uint8Array, Uint8Array]> = []
  let size = 2
  for (const [key, value] of entries) {
    const k = encodeField(key, 'key')
    const v = encodeField(value, 'value')
    pairs.push([k, v])
    size += 4 + k.length + v.length
  }
  pairs.sort(([a], [b]) => compareBytes(a, b))

  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  view.setUint16(0, pairs.length)
  let offset = 2
  for (const [k, v] of pairs) {
    view.setUint16(offset, k.length)
    out.set(k, offset + 2)
    offset += 2 + k.length
    view.setUint16(offset, v.length)
    out.set(v, offset + 2)
    offset += 2 + v.length
  }
  return out
}

/**
 * Inverse of {@link encodeEncryptionContext}. Accepts only canonical encodings (strictly ascending
 * keys, valid UTF-8, no trailing bytes) and returns undefined for anything else.
 */
export function decodeEncryptionContext(bytes: Uint8Array): Record<string, string> | undefined {
  if (bytes.length < 2) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = view.getUint16(0)
  const entries: Array<[string, string]> = []
  let offset = 2
  let previousKey: Uint8Array | undefined
  for (let i = 0; i < count; i++) {
    const key = readField(bytes, view, offset)
    if (key === undefined) return undefined
    offset += 2 + key.length
    const value = readField(bytes, view, offset)
    if (value === undefined) return undefined
    offset += 2 + value.length
    if (previousKey !== undefined && compareBytes(previousKey, key) >= 0) return undefined
    previousKey = key
    const k = decodeUtf8(key)
    const v = decodeUtf8(value)
    if (k === undefined || v === undefined) return undefined
    entries.push([k, v])
  }
  if (offset !== bytes.length) return undefined
  return Object.fromEntries(entries)
}

const ASCII = /^[\x00-\x7f]*$/

/**
 * The same encoding for a context of ASCII strings within the limits (nearly every context), without
 * a UTF-8 encoder: there each character is one byte, and string order is byte order. Undefined for
 * any other context, which the general path encodes or refuses.
 */
function encodeAsciiContext(entries: ReadonlyArray<[string, unknown]>): Uint8Array | undefined {
  let size = 2
  for (const [key, value] of entries) {
    if (typeof value !== 'string' || key.length > MAX_CONTEXT_FIELD_BYTES || value.length > MAX_CONTEXT_FIELD_BYTES) return undefined
    if (!ASCII.test(key) || !ASCII.test(value)) return undefined
    size += 4 + key.length + value.length
  }
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const out = new Uint8Array(size)
  out[0] = sorted.length >>> 8
  out[1] = sorted.length & 0xff
  let offset = 2
  for (const [key, value] of sorted) {
    offset = writeAscii(out, offset, key)
    offset = writeAscii(out, offset, value as string)
  }
  return out
}

/** Writes `uint16 length || s` (ASCII) at `offset`; returns the offset after it. */
function writeAscii(out: Uint8Array, offset: number, s: string): number {
  out[offset] = s.length >>> 8
  out[offset + 1] = s.length & 0xff
  for (let i = 0; i < s.length; i++) out[offset + 2 + i] = s.charCodeAt(i)
  return offset + 2 + s.length
}

function encodeField(s: unknown, what: 'key' | 'value'): Uint8Array {
  /* Precondition: Every encryption context key and value is a string. */
  if (typeof s !== 'string') {
    throw new KmsError('ValidationException', `Encryption context ${what}s must be strings`)
  }
  /* Precondition: Every encryption context key and value is well-formed Unicode. */
  // A lone surrogate would be encoded as U+FFFD, so two different contexts could share an encoding.
  if (LONE_SURROGATE.test(s)) {
    throw new KmsError('ValidationException', `Encryption context ${what} is not valid Unicode`)
  }
  const bytes = utf8.encode(s)
  /* Precondition: Every encryption context key and value is at most 65535 bytes of UTF-8. */
  if (bytes.length > MAX_CONTEXT_FIELD_BYTES) {
    throw new KmsError(
      'ValidationException',
      `Encryption context ${what} of ${bytes.length} bytes exceeds the limit of ${MAX_CONTEXT_FIELD_BYTES} bytes`,
    )
  }
  return bytes
}

function readField(bytes: Uint8Array, view: DataView, offset: number): Uint8Array | undefined {
  if (offset + 2 > bytes.length) return undefined
  const length = view.getUint16(offset)
  if (offset + 2 + length > bytes.length) return undefined
  return bytes.subarray(offset + 2, offset + 2 + length)
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}
