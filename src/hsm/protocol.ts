import { KmsError, type KmsErrorCode } from '../core/errors.js'
import { zeroize } from '../core/secret.js'
import type { EncryptionContext } from '../core/types.js'
import type { Hsm, ImportWrapping, KeyBinding, KeyMaterialRef } from './hsm.js'

/**
 * Binary encoding of {@link Hsm} calls over the HSM channel.
 *
 * ```
 * request  = uint32 id ‖ uint8 opcode ‖ field*
 * response = uint32 id ‖ uint8 status ‖ field*      status 0: the result's fields
 *                                                   status 1: code ‖ message
 * field    = uint32 length ‖ bytes
 * ```
 *
 * Strings are UTF-8; numbers are IEEE-754 float64 (so the engine validates exactly the value the
 * caller gave); booleans one byte 0 or 1; a KeyBinding is keyArn ‖ keyId ‖ keySpec ‖ origin and a
 * KeyMaterialRef adds hbkId ‖ ekt; an encryption context is a 4-byte pair count followed by
 * key ‖ value fields, in the record's own order (the engine canonicalises). Every decoded byte
 * string is a copy, so the channel can zeroise its frame buffers after delivery.
 */

/** The Hsm methods that cross the channel (`close` is local to each side). */
export type HsmMethod = Exclude<keyof Hsm, 'close'>
/** Argument tuple of an Hsm method. */
export type HsmArgs<M extends HsmMethod> = Parameters<Hsm[M]>
/** Resolved result of an Hsm method. */
export type HsmResult<M extends HsmMethod> = Awaited<ReturnType<Hsm[M]>>

/** Wire opcode of each method. Append only: opcodes are never reused. */
export const OPCODES: Readonly<Record<HsmMethod, number>> = Object.freeze({
  initDomain: 1,
  loadDomain: 2,
  generateKeyMaterial: 3,
  encrypt: 4,
  decrypt: 5,
  generateDataKey: 6,
  reEncrypt: 7,
  generateRandom: 8,
  wrapSecret: 9,
  deriveSigningKey: 10,
  generateWrappingKey: 11,
  importKeyMaterial: 12,
  getPublicKey: 13,
  sign: 14,
  verify: 15,
  encryptAsymmetric: 16,
  decryptAsymmetric: 17,
  reEncryptAsymmetric: 18,
  generateMac: 19,
  verifyMac: 20,
  deriveSharedSecret: 21,
  generateDataKeyPair: 22,
  createAuditSigningKey: 23,
  signAuditDigest: 24,
})

const METHODS: ReadonlyMap<number, HsmMethod> = new Map(
  (Object.entries(OPCODES) as Array<[HsmMethod, number]>).map(([m, op]) => [op, m]),
)

/** Response status byte. */
export const STATUS_OK = 0
/** Response status byte for an error `{code, message}`. */
export const STATUS_ERROR = 1

/** A message that does not follow this encoding. Never crosses the channel itself. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
}

/** Builds one message in a growing, zero-initialised (never pooled) buffer. */
export class Writer {
  #buf: Buffer
  #length = 0

  /** A writer over a new buffer of `capacity` bytes, or over `buffer`, which must be all zeroes. */
  constructor(capacity: number | Buffer = 256) {
    this.#buf = typeof capacity === 'number' ? Buffer.alloc(capacity) : capacity
  }

  #ensure(n: number): void {
    if (this.#length + n <= this.#buf.length) return
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#length + n))
    next.set(this.#buf.subarray(0, this.#length))
    zeroize(this.#buf.subarray(0, this.#length))
    this.#buf = next
  }

  /** A bare uint32, not a field (message ids). */
  rawUint32(n: number): this {
    this.#ensure(4)
    this.#buf.writeUInt32BE(n, this.#length)
    this.#length += 4
    return this
  }

  /** A bare uint8, not a field (opcode, status). */
  rawUint8(n: number): this {
    this.#ensure(1)
    this.#buf[this.#length++] = n
    return this
  }

  bytes(b: Uint8Array): this {
    this.#ensure(4 + b.length)
    this.#buf.writeUInt32BE(b.length, this.#length)
    this.#buf.set(b, this.#length + 4)
    this.#length += 4 + b.length
    return this
  }

  string(s: string): this {
    // At most 3 bytes per UTF-16 unit: write first, then fill in the length.
    this.#ensure(4 + 3 * s.length)
    const n = this.#buf.write(s, this.#length + 4)
    this.#buf.writeUInt32BE(n, this.#length)
    this.#length += 4 + n
    return this
  }

  number(n: number): this {
    this.#ensure(12)
    this.#buf.writeUInt32BE(8, this.#length)
    this.#buf.writeDoubleBE(n, this.#length + 4)
    this.#length += 12
    return this
  }

  bool(b: boolean): this {
    this.#ensure(5)
    this.#buf.writeUInt32BE(1, this.#length)
    this.#buf[this.#length + 4] = b ? 1 : 0
    this.#length += 5
    return this
  }

  context(context: EncryptionContext): this {
    const keys = Object.keys(context)
    this.#ensure(8)
    this.#buf.writeUInt32BE(4, this.#length)
    this.#buf.writeUInt32BE(keys.length, this.#length + 4)
    this.#length += 8
    for (const k of keys) this.string(k).string(context[k]!)
    return this
  }

  binding(b: KeyBinding): this {
    return this.string(b.keyArn).string(b.keyId).string(b.keySpec).string(b.origin)
  }

  keyRef(k: KeyMaterialRef): this {
    return this.binding(k).bytes(k.hbkId).bytes(k.ekt)
  }

  wrapping(w: ImportWrapping): this {
    return this.string(w.wrappingKeySpec).string(w.wrappingAlgorithm).bytes(w.wrappedPrivateKey)
  }

  /** The message so far. Shares the buffer: the writer must not be used afterwards. */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#length)
  }

  /** A copy of the message at its exact size. */
  copy(): Uint8Array {
    return new Uint8Array(this.#buf.subarray(0, this.#length))
  }

  /** Zeroes what was written, leaving the buffer as it was given. */
  wipe(): void {
    zeroize(this.#buf.subarray(0, this.#length))
    this.#length = 0
  }
}

// Messages are written into one scratch buffer (encoding is synchronous and never nested) and
// copied out at their exact size: one small allocation per message instead of a large one, which
// also keeps the memory the garbage collector must account for small.
const scratch = Buffer.alloc(4096)

function encodeMessage(write: (w: Writer) => void): Uint8Array {
  const w = new Writer(scratch)
  try {
    write(w)
    return w.copy()
  } finally {
    w.wipe()
  }
}

const NUMBER_FIELD = { length: 8, name: 'number' }
const BOOLEAN_FIELD = { length: 1, name: 'boolean' }
const CONTEXT_FIELD = { length: 4, name: 'context' }

/** Reads one message; every accessor throws {@link ProtocolError} on malformed input. */
export class Reader {
  readonly #buf: Buffer
  #offset = 0

  constructor(message: Uint8Array) {
    this.#buf = Buffer.from(message.buffer, message.byteOffset, message.length)
  }

  rawUint32(): number {
    if (this.#offset + 4 > this.#buf.length) throw new ProtocolError('truncated message')
    const n = this.#buf.readUInt32BE(this.#offset)
    this.#offset += 4
    return n
  }

  rawUint8(): number {
    const n = this.#buf[this.#offset]
    if (n === undefined) throw new ProtocolError('truncated message')
    this.#offset++
    return n
  }

  /** Moves past the next field and returns where its bytes start (no view is made: most fields are small). */
  #field(expected?: { length: number; name: string }): number {
    const length = this.rawUint32()
    const start = this.#offset
    const end = start + length
    if (end > this.#buf.length) throw new ProtocolError('truncated field')
    if (expected !== undefined && length !== expected.length) throw new ProtocolError(`bad ${expected.name} field`)
    this.#offset = end
    return start
  }

  /** A byte-string field, copied out of the message. */
  bytes(): Uint8Array {
    const start = this.#field()
    return new Uint8Array(this.#buf.subarray(start, this.#offset))
  }

  string(): string {
    const start = this.#field()
    return this.#buf.toString('utf8', start, this.#offset)
  }

  number(): number {
    return this.#buf.readDoubleBE(this.#field(NUMBER_FIELD))
  }

  bool(): boolean {
    const b = this.#buf[this.#field(BOOLEAN_FIELD)]!
    if (b > 1) throw new ProtocolError('bad boolean field')
    return b === 1
  }

  context(): EncryptionContext {
    const count = this.#buf.readUInt32BE(this.#field(CONTEXT_FIELD))
    const out: Record<string, string> = {}
    for (let i = 0; i < count; i++) {
      const k = this.string()
      const v = this.string()
      if (Object.hasOwn(out, k)) throw new ProtocolError('duplicate context key')
      // defineProperty for "__proto__" only, so it is an own property like any other.
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
      else out[k] = v
    }
    return out
  }

  binding(): KeyBinding {
    return { keyArn: this.string(), keyId: this.string(), keySpec: this.string(), origin: this.string() }
  }

  keyRef(): KeyMaterialRef {
    const { keyArn, keyId, keySpec, origin } = this.binding()
    return { keyArn, keyId, keySpec, origin, hbkId: this.bytes(), ekt: this.bytes() }
  }

  wrapping(): ImportWrapping {
    return { wrappingKeySpec: this.string(), wrappingAlgorithm: this.string(), wrappedPrivateKey: this.bytes() }
  }

  /** Throws unless the whole message was consumed. */
  end(): void {
    if (this.#offset !== this.#buf.length) throw new ProtocolError('trailing bytes in message')
  }
}

interface MethodCodec<M extends HsmMethod> {
  encodeArgs(w: Writer, args: HsmArgs<M>): void
  decodeArgs(r: Reader): HsmArgs<M>
  encodeResult(w: Writer, result: HsmResult<M>): void
  decodeResult(r: Reader): HsmResult<M>
}

const bytesResult = {
  encodeResult: (w: Writer, result: Uint8Array) => void w.bytes(result),
  decodeResult: (r: Reader) => r.bytes(),
}

const boolResult = {
  encodeResult: (w: Writer, result: boolean) => void w.bool(result),
  decodeResult: (r: Reader) => r.bool(),
}

const CODECS: { readonly [M in HsmMethod]: MethodCodec<M> } = {
  initDomain: {
    encodeArgs: () => {},
    decodeArgs: () => [],
    ...bytesResult,
  },
  loadDomain: {
    encodeArgs: (w, [sealed]) => void w.bytes(sealed),
    decodeArgs: (r) => [r.bytes()],
    encodeResult: () => {},
    decodeResult: () => undefined,
  },
  generateKeyMaterial: {
    encodeArgs: (w, [binding]) => void w.binding(binding),
    decodeArgs: (r) => [r.binding()],
    encodeResult: (w, m) => void w.bytes(m.hbkId).bytes(m.ekt),
    decodeResult: (r) => ({ hbkId: r.bytes(), ekt: r.bytes() }),
  },
  encrypt: {
    encodeArgs: (w, [key, plaintext, context]) => void w.keyRef(key).bytes(plaintext).context(context),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.context()],
    ...bytesResult,
  },
  decrypt: {
    encodeArgs: (w, [key, blob, context]) => void w.keyRef(key).bytes(blob).context(context),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.context()],
    ...bytesResult,
  },
  generateDataKey: {
    encodeArgs: (w, [key, n, context, withPlaintext]) =>
      void w.keyRef(key).number(n).context(context).bool(withPlaintext),
    decodeArgs: (r) => [r.keyRef(), r.number(), r.context(), r.bool()],
    encodeResult: (w, d) => {
      w.bytes(d.ciphertextBlob).bool(d.plaintext !== undefined)
      if (d.plaintext !== undefined) w.bytes(d.plaintext)
    },
    decodeResult: (r) => {
      const ciphertextBlob = r.bytes()
      return r.bool() ? { ciphertextBlob, plaintext: r.bytes() } : { ciphertextBlob }
    },
  },
  reEncrypt: {
    encodeArgs: (w, [source, blob, sourceContext, destination, destinationContext]) =>
      void w.keyRef(source).bytes(blob).context(sourceContext).keyRef(destination).context(destinationContext),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.context(), r.keyRef(), r.context()],
    ...bytesResult,
  },
  getPublicKey: {
    encodeArgs: (w, [key]) => void w.keyRef(key),
    decodeArgs: (r) => [r.keyRef()],
    ...bytesResult,
  },
  sign: {
    encodeArgs: (w, [key, message, messageType, algorithm]) => void w.keyRef(key).bytes(message).string(messageType).string(algorithm),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string(), r.string()],
    ...bytesResult,
  },
  verify: {
    encodeArgs: (w, [key, message, messageType, algorithm, signature]) =>
      void w.keyRef(key).bytes(message).string(messageType).string(algorithm).bytes(signature),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string(), r.string(), r.bytes()],
    ...boolResult,
  },
  encryptAsymmetric: {
    encodeArgs: (w, [key, plaintext, algorithm]) => void w.keyRef(key).bytes(plaintext).string(algorithm),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string()],
    ...bytesResult,
  },
  decryptAsymmetric: {
    encodeArgs: (w, [key, ciphertext, algorithm]) => void w.keyRef(key).bytes(ciphertext).string(algorithm),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string()],
    ...bytesResult,
  },
  reEncryptAsymmetric: {
    encodeArgs: (w, [source, ciphertext, sourceContext, sourceAlgorithm, destination, destinationContext, destinationAlgorithm]) =>
      void w
        .keyRef(source)
        .bytes(ciphertext)
        .context(sourceContext)
        .string(sourceAlgorithm)
        .keyRef(destination)
        .context(destinationContext)
        .string(destinationAlgorithm),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.context(), r.string(), r.keyRef(), r.context(), r.string()],
    ...bytesResult,
  },
  generateMac: {
    encodeArgs: (w, [key, message, algorithm]) => void w.keyRef(key).bytes(message).string(algorithm),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string()],
    ...bytesResult,
  },
  verifyMac: {
    encodeArgs: (w, [key, message, algorithm, mac]) => void w.keyRef(key).bytes(message).string(algorithm).bytes(mac),
    decodeArgs: (r) => [r.keyRef(), r.bytes(), r.string(), r.bytes()],
    ...boolResult,
  },
  deriveSharedSecret: {
    encodeArgs: (w, [key, peerPublicKey]) => void w.keyRef(key).bytes(peerPublicKey),
    decodeArgs: (r) => [r.keyRef(), r.bytes()],
    ...bytesResult,
  },
  generateDataKeyPair: {
    encodeArgs: (w, [key, keyPairSpec, context, withPlaintext]) =>
      void w.keyRef(key).string(keyPairSpec).context(context).bool(withPlaintext),
    decodeArgs: (r) => [r.keyRef(), r.string(), r.context(), r.bool()],
    encodeResult: (w, d) => {
      w.bytes(d.publicKey).bytes(d.privateKeyCiphertextBlob).bool(d.privateKeyPlaintext !== undefined)
      if (d.privateKeyPlaintext !== undefined) w.bytes(d.privateKeyPlaintext)
    },
    decodeResult: (r) => {
      const publicKey = r.bytes()
      const privateKeyCiphertextBlob = r.bytes()
      return r.bool() ? { publicKey, privateKeyCiphertextBlob, privateKeyPlaintext: r.bytes() } : { publicKey, privateKeyCiphertextBlob }
    },
  },
  generateRandom: {
    encodeArgs: (w, [n]) => void w.number(n),
    decodeArgs: (r) => [r.number()],
    ...bytesResult,
  },
  wrapSecret: {
    encodeArgs: (w, [accessKeyId, secret]) => void w.string(accessKeyId).bytes(secret),
    decodeArgs: (r) => [r.string(), r.bytes()],
    ...bytesResult,
  },
  deriveSigningKey: {
    encodeArgs: (w, [accessKeyId, wrapped, date, region, service]) =>
      void w.string(accessKeyId).bytes(wrapped).string(date).string(region).string(service),
    decodeArgs: (r) => [r.string(), r.bytes(), r.string(), r.string(), r.string()],
    ...bytesResult,
  },
  generateWrappingKey: {
    encodeArgs: (w, [binding, spec]) => void w.binding(binding).string(spec),
    decodeArgs: (r) => [r.binding(), r.string()],
    encodeResult: (w, k) => void w.bytes(k.publicKey).bytes(k.wrappedPrivateKey),
    decodeResult: (r) => ({ publicKey: r.bytes(), wrappedPrivateKey: r.bytes() }),
  },
  importKeyMaterial: {
    encodeArgs: (w, [binding, wrapping, encrypted]) => void w.binding(binding).wrapping(wrapping).bytes(encrypted),
    decodeArgs: (r) => [r.binding(), r.wrapping(), r.bytes()],
    encodeResult: (w, m) => void w.bytes(m.hbkId).bytes(m.ekt),
    decodeResult: (r) => ({ hbkId: r.bytes(), ekt: r.bytes() }),
  },
  createAuditSigningKey: {
    encodeArgs: () => {},
    decodeArgs: () => [],
    encodeResult: (w, k) => void w.bytes(k.wrappedKey).bytes(k.publicKey),
    decodeResult: (r) => ({ wrappedKey: r.bytes(), publicKey: r.bytes() }),
  },
  signAuditDigest: {
    encodeArgs: (w, [wrappedKey, message]) => void w.bytes(wrappedKey).bytes(message),
    decodeArgs: (r) => [r.bytes(), r.bytes()],
    encodeResult: (w, s) => void w.bytes(s.signature).bytes(s.publicKey),
    decodeResult: (r) => ({ signature: r.bytes(), publicKey: r.bytes() }),
  },
}

/** Encodes a call. The result may hold secrets (plaintexts); hand it to the channel, which zeroises it. */
export function encodeRequest<M extends HsmMethod>(id: number, method: M, args: HsmArgs<M>): Uint8Array {
  return encodeMessage((w) => CODECS[method].encodeArgs(w.rawUint32(id).rawUint8(OPCODES[method]), args))
}

/** A decoded call: `args` is the argument tuple of `method`. */
export type DecodedRequest = { [M in HsmMethod]: { id: number; method: M; args: HsmArgs<M> } }[HsmMethod]

/** Decodes a call. Throws {@link ProtocolError}; use {@link readMessageId} to answer it anyway. */
export function decodeRequest(message: Uint8Array): DecodedRequest {
  const r = new Reader(message)
  const id = r.rawUint32()
  const method = METHODS.get(r.rawUint8())
  if (method === undefined) throw new ProtocolError('unknown opcode')
  const args = CODECS[method].decodeArgs(r)
  r.end()
  return { id, method, args } as DecodedRequest
}

/** Encodes a successful result. */
export function encodeResult<M extends HsmMethod>(id: number, method: M, result: HsmResult<M>): Uint8Array {
  return encodeMessage((w) => CODECS[method].encodeResult(w.rawUint32(id).rawUint8(STATUS_OK), result))
}

/**
 * Encodes a failure. Only a KmsError crosses with its code and message; anything else is our own
 * fault and becomes KMSInternalException with no message, so no internal detail leaves the HSM.
 */
export function encodeError(id: number, error: unknown): Uint8Array {
  const [code, message] = error instanceof KmsError ? [error.code, error.message] : ['KMSInternalException', '']
  return encodeMessage((w) => void w.rawUint32(id).rawUint8(STATUS_ERROR).string(code).string(message))
}

/** The id of a request or response, or undefined if the message is too short to have one. */
export function readMessageId(message: Uint8Array): number | undefined {
  if (message.length < 4) return undefined
  return Buffer.from(message.buffer, message.byteOffset, 4).readUInt32BE(0)
}

/**
 * Decodes the response to a call of `method`: returns its result, or throws the KmsError it
 * carries. Throws {@link ProtocolError} for a malformed response.
 */
export function decodeResponse<M extends HsmMethod>(message: Uint8Array, method: M): HsmResult<M> {
  const r = new Reader(message)
  r.rawUint32()
  const status = r.rawUint8()
  if (status === STATUS_OK) {
    const result = CODECS[method].decodeResult(r)
    r.end()
    return result
  }
  if (status !== STATUS_ERROR) throw new ProtocolError('unknown response status')
  const code = r.string()
  const text = r.string()
  r.end()
  // The peer is authenticated and only ever sends KmsError codes; the shape check guards against
  // a protocol bug turning into a malformed `__type` on the API.
  if (!/^[A-Za-z]{1,64}$/.test(code)) throw new ProtocolError('bad error code')
  throw new KmsError(code as KmsErrorCode, text)
}
