import { RandomPool } from './random-pool.js'
import type { Clock } from '../core/clock.js'
import type { EncryptionContext } from '../core/types.js'
import type { DataKey, Hsm, KeyBinding, KeyMaterialRef, NewKeyMaterial } from './hsm.js'
import type { SelfTestPrimitives } from './self-test.js'
import type { DomainState } from './seal.js'
import { systemClock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { isKeyId } from '../core/arn.js'
import { constantTimeEqual, zeroize } from '../core/secret.js'
import { AES_256_KEY_BYTES, GCM_IV_BYTES, aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'
import { HBK_ID_BYTES, KDF_NONCE_BYTES, assembleBlob, decodeBlob, encodeBlobHeader } from './blob.js'
import { encodeEncryptionContext } from './context.js'
import {
  DOMAIN_KEY_ID_BYTES,
  HBK_BYTES,
  unwrapCredential,
  unwrapEkt,
  wrapCredential,
  wrapEkt,
  wrappedDomainKeyId,
} from './ekt.js'
import { HbkCache } from './hbk-cache.js'
import { hmacSha256, kdfCtrHmacSha256 } from './kdf.js'
import { runSelfTests } from './self-test.js'
import {
  DOMAIN_ID_BYTES,
  SEAL_KEY_BYTES,
  sealDomainState,
  unsealDomainState,
  zeroizeDomainState,
} from './seal.js'

/** SP 800-108 label of the per-request key that encrypts a v1 blob: K = KDF(HBK, label, nonce). */
export const BLOB_KDF_LABEL = 'trent-kms-blob-v1'
/** Largest plaintext Encrypt accepts. */
export const MAX_PLAINTEXT_BYTES = 4096
/** Largest data key GenerateDataKey makes (NumberOfBytes 1..1024). */
export const MAX_DATA_KEY_BYTES = 1024
/** Largest GenerateRandom request (NumberOfBytes 1..1024). */
export const MAX_RANDOM_BYTES = 1024
/** Largest SigV4 secret access key wrapSecret accepts. */
export const MAX_SECRET_BYTES = 128

const DEFAULT_CACHE_SIZE = 1000
const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000
const BLOB_KDF_LABEL_BYTES = new TextEncoder().encode(BLOB_KDF_LABEL)
const AWS4 = new TextEncoder().encode('AWS4')
const AWS4_REQUEST = new TextEncoder().encode('aws4_request')
const ACCESS_KEY_ID = /^[\x21-\x7e]{1,128}$/
const SIGV4_DATE = /^\d{8}$/
const SCOPE_PART = /^[\x21-\x7e]{1,64}$/

/** Options of {@link SoftwareHsm.create}. */
export interface SoftwareHsmOptions {
  /**
   * The 32-byte seal key, a promise of it, or a loader for it (see `loadOrCreateSealKey`). The HSM
   * keeps its own copy; a key that came from a promise or loader is zeroised after copying.
   */
  sealKey: Uint8Array | Promise<Uint8Array> | (() => Promise<Uint8Array>)
  /** Random source; tests inject a deterministic one. Defaults to node:crypto's CSPRNG. */
  random?: (numberOfBytes: number) => Uint8Array
  /** Most unwrapped HBKs held in memory; 0 disables the cache. Default 1000. */
  cacheSize?: number
  /** How long an unwrapped HBK may stay cached, in milliseconds. Default 5 minutes. */
  cacheTtlMs?: number
  clock?: Clock
  /** Replacement primitives for the start-up self-tests, so tests can prove a failure mutes the HSM. */
  selfTestPrimitives?: Partial<SelfTestPrimitives>
}

/**
 * `no-domain`: self-tests passed, waiting for initDomain/loadDomain. `ready`: serving. `mute`: a
 * self-test failed; every command is refused and nothing secret is held. `closed`: after close().
 */
export type SoftwareHsmStatus = 'no-domain' | 'ready' | 'mute' | 'closed'

/**
 * The built-in software HSM: domain keys, HBKs and credential secrets live only in this object's
 * memory; callers see EKTs, wrapped secrets, blobs, and the plaintext the API promises them.
 *
 * Per-request keys: `K = KDF(HBK, "trent-kms-blob-v1", nonce)` (SP 800-108 counter mode,
 * HMAC-SHA256) with a fresh 16-byte nonce; K encrypts with AES-256-GCM under a fresh 12-byte IV
 * and `AAD = blob header || canonical encryption context`. See docs/ciphertext-format.md.
 */
export class SoftwareHsm implements Hsm {
  readonly #sealKey: Uint8Array
  readonly #randomSource: (numberOfBytes: number) => Uint8Array
  readonly #injectedRandom: boolean
  readonly #cache: HbkCache
  #domain: DomainState | undefined
  #status: SoftwareHsmStatus = 'no-domain'
  #sweepTimer: ReturnType<typeof setInterval> | undefined

  private constructor(sealKey: Uint8Array, options: SoftwareHsmOptions) {
    this.#sealKey = sealKey
    this.#injectedRandom = options.random !== undefined
    const pool = new RandomPool()
    this.#randomSource = options.random ?? ((n) => pool.take(n))
    const ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
    this.#cache = new HbkCache({
      maxEntries: options.cacheSize ?? DEFAULT_CACHE_SIZE,
      ttlMs,
      clock: options.clock ?? systemClock,
    })
    if (this.#cache.enabled) {
      // Expired HBKs must not linger in an idle process until the next request touches the cache.
      this.#sweepTimer = setInterval(() => this.#cache.sweep(), Math.min(ttlMs, 60_000))
      this.#sweepTimer.unref()
    }
  }

  /**
   * Builds a software HSM and runs the known-answer self-tests. If a self-test fails the HSM is
   * returned mute (status `mute`): it holds no secrets and every command throws
   * KMSInternalException. Throws KMSInternalException for a seal key that is not 32 bytes.
   */
  static async create(options: SoftwareHsmOptions): Promise<SoftwareHsm> {
    let sealKey: Uint8Array
    if (options.sealKey instanceof Uint8Array) {
      sealKey = copy(options.sealKey)
    } else {
      const loaded = await (typeof options.sealKey === 'function' ? options.sealKey() : options.sealKey)
      sealKey = copy(loaded)
      zeroize(loaded)
    }
    /* Precondition: The HSM's seal key is 32 bytes. */
    if (sealKey.length !== SEAL_KEY_BYTES) {
      zeroize(sealKey)
      throw new KmsError('KMSInternalException', 'Seal key must be 32 bytes')
    }
    const hsm = new SoftwareHsm(sealKey, options)
    try {
      runSelfTests(options.selfTestPrimitives)
    } catch {
      hsm.#goMute()
    }
    return hsm
  }

  /** Where the HSM is in its life; `ready` is the only state in which key commands run. */
  get status(): SoftwareHsmStatus {
    return this.#status
  }

  async initDomain(): Promise<Uint8Array> {
    this.#checkAlive()
    /* Precondition: A new domain is created only by an HSM that holds none. */
    if (this.#domain !== undefined) {
      throw new KmsError('KMSInternalException', 'The HSM already holds a domain')
    }
    const state: DomainState = {
      domainId: this.#random(DOMAIN_ID_BYTES),
      keys: [
        { id: this.#random(DOMAIN_KEY_ID_BYTES), key: this.#random(AES_256_KEY_BYTES), active: true },
      ],
    }
    let sealed: Uint8Array
    try {
      sealed = sealDomainState(state, this.#sealKey, this.#random(GCM_IV_BYTES))
    } catch (e) {
      zeroizeDomainState(state)
      throw e
    }
    this.#domain = state
    this.#status = 'ready'
    return sealed
  }

  async loadDomain(sealedDomain: Uint8Array): Promise<void> {
    this.#checkAlive()
    const state = unsealDomainState(sealedDomain, this.#sealKey)
    this.#dropDomain()
    this.#domain = state
    this.#status = 'ready'
  }

  async generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial> {
    const domain = this.#ready()
    checkBinding(binding)
    /* Precondition: Key material is generated only for SYMMETRIC_DEFAULT keys. */
    if (binding.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'UnsupportedOperationException',
        `The software HSM cannot generate ${binding.keySpec} key material`,
      )
    }
    const hbk = this.#random(HBK_BYTES)
    try {
      const hbkId = this.#random(HBK_ID_BYTES)
      const ekt = wrapEkt(activeDomainKey(domain), hbk, { ...binding, hbkId }, this.#random(GCM_IV_BYTES))
      return { hbkId, ekt }
    } finally {
      zeroize(hbk)
    }
  }

  async encrypt(key: KeyMaterialRef, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    /* Precondition: A plaintext to encrypt is at most 4096 bytes. */
    if (plaintext.length > MAX_PLAINTEXT_BYTES) {
      throw new KmsError('ValidationException', `Plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes`)
    }
    const aadContext = encodeEncryptionContext(context)
    return this.#withHbk(domain, key, ektFailedOnEncrypt, (hbk) =>
      this.#seal(hbk, key, plaintext, aadContext),
    )
  }

  async decrypt(key: KeyMaterialRef, blob: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    return this.#open(domain, key, blob, encodeEncryptionContext(context))
  }

  async generateDataKey(
    key: KeyMaterialRef,
    numberOfBytes: number,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKey> {
    const domain = this.#ready()
    checkBinding(key)
    /* Precondition: A data key is between 1 and 1024 bytes. */
    if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > MAX_DATA_KEY_BYTES) {
      throw new KmsError('ValidationException', `NumberOfBytes must be between 1 and ${MAX_DATA_KEY_BYTES}`)
    }
    const aadContext = encodeEncryptionContext(context)
    return this.#withHbk(domain, key, ektFailedOnEncrypt, (hbk) => {
      const plaintext = this.#random(numberOfBytes)
      try {
        const ciphertextBlob = this.#seal(hbk, key, plaintext, aadContext)
        return withPlaintext ? { ciphertextBlob, plaintext } : { ciphertextBlob }
      } finally {
        if (!withPlaintext) zeroize(plaintext)
      }
    })
  }

  async reEncrypt(
    source: KeyMaterialRef,
    blob: Uint8Array,
    sourceContext: EncryptionContext,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(source)
    checkBinding(destination)
    const sourceAadContext = encodeEncryptionContext(sourceContext)
    const destinationAadContext = encodeEncryptionContext(destinationContext)
    const plaintext = this.#open(domain, source, blob, sourceAadContext)
    try {
      return this.#withHbk(domain, destination, ektFailedOnEncrypt, (hbk) =>
        this.#seal(hbk, destination, plaintext, destinationAadContext),
      )
    } finally {
      zeroize(plaintext)
    }
  }

  async generateRandom(numberOfBytes: number): Promise<Uint8Array> {
    this.#checkAlive()
    /* Precondition: A random request is between 1 and 1024 bytes. */
    if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > MAX_RANDOM_BYTES) {
      throw new KmsError('ValidationException', `NumberOfBytes must be between 1 and ${MAX_RANDOM_BYTES}`)
    }
    return this.#random(numberOfBytes)
  }

  async wrapSecret(accessKeyId: string, secret: Uint8Array): Promise<Uint8Array> {
    const domain = this.#ready()
    checkAccessKeyId(accessKeyId)
    /* Precondition: A secret to wrap is between 1 and 128 bytes. */
    if (secret.length < 1 || secret.length > MAX_SECRET_BYTES) {
      throw new KmsError(
        'ValidationException',
        `A secret access key must be between 1 and ${MAX_SECRET_BYTES} bytes`,
      )
    }
    return wrapCredential(activeDomainKey(domain), accessKeyId, secret, this.#random(GCM_IV_BYTES))
  }

  async deriveSigningKey(
    accessKeyId: string,
    wrappedSecret: Uint8Array,
    date: string,
    region: string,
    service: string,
  ): Promise<Uint8Array> {
    const domain = this.#ready()
    checkAccessKeyId(accessKeyId)
    /* Precondition: A SigV4 scope date is eight digits and its region and service are 1 to 64 printable ASCII characters. */
    if (!SIGV4_DATE.test(date) || !SCOPE_PART.test(region) || !SCOPE_PART.test(service)) {
      throw new KmsError('ValidationException', 'Malformed SigV4 credential scope')
    }
    const secret = unwrapCredential(wrappedSecret, domainKeyLookup(domain), accessKeyId)
    if (secret === undefined) {
      throw new KmsError('KMSInternalException', 'The wrapped secret does not unwrap for this access key id')
    }
    const kSecret = new Uint8Array(AWS4.length + secret.length)
    kSecret.set(AWS4, 0)
    kSecret.set(secret, AWS4.length)
    zeroize(secret)
    let kDate: Uint8Array | undefined
    let kRegion: Uint8Array | undefined
    let kService: Uint8Array | undefined
    try {
      kDate = hmacSha256(kSecret, ascii(date))
      kRegion = hmacSha256(kDate, ascii(region))
      kService = hmacSha256(kRegion, ascii(service))
      return hmacSha256(kService, AWS4_REQUEST)
    } finally {
      zeroize(kSecret, kDate, kRegion, kService)
    }
  }

  async close(): Promise<void> {
    if (this.#status === 'closed') return
    this.#wipe()
    this.#status = 'closed'
  }

  /** Encrypts under an unwrapped HBK. Random draws, in order: KDF nonce (16), IV (12). */
  #seal(hbk: Uint8Array, key: KeyMaterialRef, plaintext: Uint8Array, aadContext: Uint8Array): Uint8Array {
    const nonce = this.#random(KDF_NONCE_BYTES)
    const iv = this.#random(GCM_IV_BYTES)
    const header = encodeBlobHeader({ keyId: key.keyId, hbkId: key.hbkId, nonce, iv })
    const k = kdfCtrHmacSha256(hbk, BLOB_KDF_LABEL_BYTES, nonce, AES_256_KEY_BYTES)
    try {
      const { ciphertext, tag } = aesGcmEncrypt(k, iv, plaintext, concat(header, aadContext))
      return assembleBlob(header, ciphertext, tag)
    } finally {
      zeroize(k)
    }
  }

  /** Decrypts a blob; every failure is the same empty InvalidCiphertextException. */
  #open(domain: DomainState, key: KeyMaterialRef, blob: Uint8Array, aadContext: Uint8Array): Uint8Array {
    const decoded = decodeBlob(blob)
    if (decoded === undefined) invalidCiphertext()
    if (decoded.keyId !== key.keyId) invalidCiphertext()
    if (!constantTimeEqual(decoded.hbkId, key.hbkId)) invalidCiphertext()
    return this.#withHbk(domain, key, invalidCiphertext, (hbk) => {
      const k = kdfCtrHmacSha256(hbk, BLOB_KDF_LABEL_BYTES, decoded.nonce, AES_256_KEY_BYTES)
      try {
        const aad = concat(decoded.header, aadContext)
        const plaintext = aesGcmDecrypt(k, decoded.iv, decoded.ciphertext, decoded.tag, aad)
        if (plaintext === undefined) invalidCiphertext()
        return plaintext
      } finally {
        zeroize(k)
      }
    })
  }

  /**
   * Runs `use` with the key's HBK, from the cache or freshly unwrapped. The cache key covers the
   * EKT bytes and its whole AAD (domain key id, ARN, HBK id, spec, origin), so a cached HBK is only
   * ever served for the binding its EKT authenticated under.
   */
  #withHbk<T>(domain: DomainState, key: KeyMaterialRef, fail: () => never, use: (hbk: Uint8Array) => T): T {
    const domainKeyId = wrappedDomainKeyId(key.ekt)
    if (domainKeyId === undefined || key.hbkId.length !== HBK_ID_BYTES) fail()
    const binding = {
      keyArn: key.keyArn,
      keyId: key.keyId,
      keySpec: key.keySpec,
      origin: key.origin,
      hbkId: key.hbkId,
    }
    // Unambiguous and much cheaper than encoding the AAD bytes: the HBK id has a fixed length, the
    // EKT (which carries the domain key id) is length-prefixed, the strings are JSON.
    const cacheKey = `${latin1(key.hbkId)}${key.ekt.length}:${latin1(key.ekt)}${JSON.stringify([key.keyArn, key.keyId, key.keySpec, key.origin])}`
    let hbk = this.#cache.get(cacheKey)
    let owned = false
    if (hbk === undefined) {
      hbk = unwrapEkt(key.ekt, domainKeyLookup(domain), binding)
      if (hbk === undefined) fail()
      if (this.#cache.enabled) this.#cache.set(cacheKey, hbk)
      else owned = true
    }
    try {
      return use(hbk)
    } finally {
      if (owned) zeroize(hbk)
    }
  }

  #random(numberOfBytes: number): Uint8Array {
    const bytes = this.#randomSource(numberOfBytes)
    if (!(bytes instanceof Uint8Array) || bytes.length !== numberOfBytes) {
      throw new KmsError('KMSInternalException', 'The random source returned the wrong number of bytes')
    }
    // An injected source may hand out a buffer it keeps; the HSM must own (and may zeroise) what it uses.
    return this.#injectedRandom ? copy(bytes) : bytes
  }

  #checkAlive(): void {
    if (this.#status === 'mute') {
      throw new KmsError('KMSInternalException', 'The HSM failed its self-tests and is mute')
    }
    if (this.#status === 'closed') throw new KmsError('KMSInternalException', 'The HSM is closed')
  }

  #ready(): DomainState {
    this.#checkAlive()
    if (this.#domain === undefined) throw new KmsError('KMSInternalException', 'The HSM holds no domain')
    return this.#domain
  }

  #goMute(): void {
    this.#wipe()
    this.#status = 'mute'
  }

  #wipe(): void {
    this.#dropDomain()
    zeroize(this.#sealKey)
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer)
    this.#sweepTimer = undefined
  }

  #dropDomain(): void {
    if (this.#domain !== undefined) zeroizeDomainState(this.#domain)
    this.#domain = undefined
    this.#cache.clear()
  }
}

function invalidCiphertext(): never {
  throw new KmsError('InvalidCiphertextException')
}

function ektFailedOnEncrypt(): never {
  throw new KmsError('KMSInternalException', 'The key material token did not unwrap')
}

function checkBinding(binding: KeyBinding): void {
  /* Precondition: A key's id is a well-formed key id and the last part of its ARN. */
  if (!isKeyId(binding.keyId) || !binding.keyArn.endsWith(`:key/${binding.keyId}`)) {
    throw new KmsError('KMSInternalException', 'Key id and key ARN do not match')
  }
}

function checkAccessKeyId(accessKeyId: string): void {
  /* Precondition: An access key id is 1 to 128 printable ASCII characters. */
  if (!ACCESS_KEY_ID.test(accessKeyId)) {
    throw new KmsError('ValidationException', 'Malformed access key id')
  }
}

function activeDomainKey(domain: DomainState): { id: Uint8Array; key: Uint8Array } {
  const active = domain.keys.find((k) => k.active)
  if (active === undefined) throw new KmsError('KMSInternalException', 'The domain has no active key')
  return active
}

function domainKeyLookup(domain: DomainState): (id: Uint8Array) => Uint8Array | undefined {
  return (id) => domain.keys.find((k) => Buffer.from(k.id).equals(id))?.key
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}
