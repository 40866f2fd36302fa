import { createPrivateKey, createPublicKey, sign } from 'node:crypto'
import { RandomPool } from './random-pool.js'
import type { Clock } from '../core/clock.js'
import type { EncryptionContext } from '../core/types.js'
import type { AuditSignature, AuditSigningKey, DataKey, DataKeyPair, Hsm, ImportWrapping, ImportWrappingKey, KeyBinding, KeyMaterialRef, NewKeyMaterial } from './hsm.js'
import type { SelfTestPrimitives } from './self-test.js'
import type { DomainState } from './seal.js'
import { systemClock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { isKeyId } from '../core/arn.js'
import { assertAlgorithm } from '../core/key-specs.js'
import { constantTimeEqual, zeroize } from '../core/secret.js'
import { AES_256_KEY_BYTES, GCM_IV_BYTES, aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'
import { HBK_ID_BYTES, KDF_NONCE_BYTES, assembleBlob, decodeBlob, encodeBlobHeader } from './blob.js'
import { encodeEncryptionContext } from './context.js'
import {
  DOMAIN_KEY_ID_BYTES,
  HBK_BYTES,
  unwrapAuditKey,
  unwrapCredential,
  unwrapEkt,
  unwrapImportKey,
  wrapAuditKey,
  wrapCredential,
  wrapEkt,
  wrapImportKey,
  wrappedDomainKeyId,
} from './ekt.js'
import {
  MAX_MESSAGE_BYTES,
  checkSignInput,
  ecdh,
  generatePrivateKey,
  hmac,
  hmacKeyBytes,
  isKeyPairSpec,
  oaepDecrypt,
  oaepEncrypt,
  parseKeyPair,
  signWith,
  spki,
  verifyWith,
  type KeyPair,
} from './asymmetric.js'
import { HbkCache } from './hbk-cache.js'
import { generateWrappingKeyPair, importedHbk, importedHbkId, unwrapImportedMaterial } from './key-import.js'
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
  /** Parsed private keys, under the same bounds as the HBKs. */
  readonly #pairs: HbkCache<KeyPair>
  #domain: DomainState | undefined
  #status: SoftwareHsmStatus = 'no-domain'
  #sweepTimer: ReturnType<typeof setInterval> | undefined

  private constructor(sealKey: Uint8Array, options: SoftwareHsmOptions) {
    this.#sealKey = sealKey
    this.#injectedRandom = options.random !== undefined
    const pool = new RandomPool()
    this.#randomSource = options.random ?? ((n) => pool.take(n))
    const ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
    const cacheOptions = { maxEntries: options.cacheSize ?? DEFAULT_CACHE_SIZE, ttlMs, clock: options.clock ?? systemClock }
    this.#cache = new HbkCache(cacheOptions)
    this.#pairs = new HbkCache<KeyPair>(cacheOptions)
    if (this.#cache.enabled) {
      // Expired HBKs must not linger in an idle process until the next request touches the cache.
      this.#sweepTimer = setInterval(() => {
        this.#cache.sweep()
        this.#pairs.sweep()
      }, Math.min(ttlMs, 60_000))
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
    this.#ready()
    checkBinding(binding)
    const hbk = await this.#newMaterial(binding.keySpec)
    try {
      // Read the domain after the await: it may have been replaced (and the old one zeroised) meanwhile.
      const domain = this.#ready()
      const hbkId = this.#random(HBK_ID_BYTES)
      const ekt = wrapEkt(activeDomainKey(domain), hbk, { ...binding, hbkId }, this.#random(GCM_IV_BYTES))
      return { hbkId, ekt }
    } finally {
      zeroize(hbk)
    }
  }

  async generateWrappingKey(binding: KeyBinding, wrappingKeySpec: string): Promise<ImportWrappingKey> {
    this.#ready()
    checkBinding(binding)
    const { publicKey, pkcs8 } = await generateWrappingKeyPair(wrappingKeySpec)
    try {
      // Generating took a while: the domain may have been dropped meanwhile.
      const wrappedPrivateKey = wrapImportKey(activeDomainKey(this.#ready()), binding.keyArn, wrappingKeySpec, pkcs8, this.#random(GCM_IV_BYTES))
      return { publicKey, wrappedPrivateKey }
    } finally {
      zeroize(pkcs8)
    }
  }

  async importKeyMaterial(binding: KeyBinding, wrapping: ImportWrapping, encryptedKeyMaterial: Uint8Array): Promise<NewKeyMaterial> {
    const domain = this.#ready()
    checkBinding(binding)
    const pkcs8 = unwrapImportKey(wrapping.wrappedPrivateKey, domainKeyLookup(domain), binding.keyArn, wrapping.wrappingKeySpec)
    // A wrapping key made for another key (or tampered with) does not unwrap for this one.
    if (pkcs8 === undefined) throw new KmsError('InvalidImportTokenException', 'The import token is not valid for this key.') // Guessed wording
    let material: Uint8Array
    try {
      material = unwrapImportedMaterial(pkcs8, wrapping.wrappingKeySpec, wrapping.wrappingAlgorithm, encryptedKeyMaterial)
    } finally {
      zeroize(pkcs8)
    }
    let hbk: Uint8Array | undefined
    try {
      const imported = importedHbk(binding.keySpec, material)
      hbk = imported.hbk
      // The domain's first key is its founding secret: ids must stay the same across domain key rotation.
      const hbkId = importedHbkId(domain.keys[0]!.key, domain.domainId, binding.keyArn, imported.identity)
      const ekt = wrapEkt(activeDomainKey(domain), hbk, { ...binding, hbkId }, this.#random(GCM_IV_BYTES))
      return { hbkId, ekt }
    } finally {
      zeroize(material, hbk)
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

  async getPublicKey(key: KeyMaterialRef): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    return this.#withPair(domain, key, (pair) => spki(pair.publicKey))
  }

  async sign(key: KeyMaterialRef, message: Uint8Array, messageType: string, algorithm: string): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    checkSignInput(key.keySpec, algorithm, messageType, message)
    return this.#withPair(domain, key, (pair) => signWith(pair, algorithm, messageType, message, (n) => this.#random(n)))
  }

  async verify(
    key: KeyMaterialRef,
    message: Uint8Array,
    messageType: string,
    algorithm: string,
    signature: Uint8Array,
  ): Promise<boolean> {
    const domain = this.#ready()
    checkBinding(key)
    checkSignInput(key.keySpec, algorithm, messageType, message)
    return this.#withPair(domain, key, (pair) => verifyWith(pair, algorithm, messageType, message, signature))
  }

  async encryptAsymmetric(key: KeyMaterialRef, plaintext: Uint8Array, algorithm: string): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    return this.#withPair(domain, key, (pair) => oaepEncrypt(pair, key.keySpec, algorithm, plaintext))
  }

  async decryptAsymmetric(key: KeyMaterialRef, ciphertext: Uint8Array, algorithm: string): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    return this.#withPair(domain, key, (pair) => oaepDecrypt(pair, key.keySpec, algorithm, ciphertext))
  }

  async reEncryptAsymmetric(
    source: KeyMaterialRef,
    ciphertext: Uint8Array,
    sourceContext: EncryptionContext,
    sourceAlgorithm: string,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
    destinationAlgorithm: string,
  ): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(source)
    checkBinding(destination)
    assertAlgorithm(source.keySpec, 'encryptionAlgorithms', sourceAlgorithm)
    assertAlgorithm(destination.keySpec, 'encryptionAlgorithms', destinationAlgorithm)
    const destinationAad = encodeEncryptionContext(destinationContext)
    const plaintext =
      sourceAlgorithm === 'SYMMETRIC_DEFAULT'
        ? this.#open(domain, source, ciphertext, encodeEncryptionContext(sourceContext))
        : this.#withPair(domain, source, (pair) => oaepDecrypt(pair, source.keySpec, sourceAlgorithm, ciphertext))
    try {
      return destinationAlgorithm === 'SYMMETRIC_DEFAULT'
        ? this.#withHbk(domain, destination, ektFailedOnEncrypt, (hbk) => this.#seal(hbk, destination, plaintext, destinationAad))
        : this.#withPair(domain, destination, (pair) => oaepEncrypt(pair, destination.keySpec, destinationAlgorithm, plaintext))
    } finally {
      zeroize(plaintext)
    }
  }

  async generateMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    checkMacMessage(message)
    return this.#withHbk(domain, key, ektFailedOnEncrypt, (k) => hmac(key.keySpec, algorithm, k, message))
  }

  async verifyMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string, mac: Uint8Array): Promise<boolean> {
    const domain = this.#ready()
    checkBinding(key)
    checkMacMessage(message)
    return this.#withHbk(domain, key, ektFailedOnEncrypt, (k) => constantTimeEqual(hmac(key.keySpec, algorithm, k, message), mac))
  }

  async deriveSharedSecret(key: KeyMaterialRef, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    const domain = this.#ready()
    checkBinding(key)
    assertAlgorithm(key.keySpec, 'keyAgreementAlgorithms', 'ECDH')
    return this.#withPair(domain, key, (pair) => ecdh(pair, peerPublicKey))
  }

  async generateDataKeyPair(
    key: KeyMaterialRef,
    keyPairSpec: string,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKeyPair> {
    this.#ready()
    checkBinding(key)
    /* Precondition: A data key pair is of a spec the HSM makes key pairs for. */
    if (!isKeyPairSpec(keyPairSpec)) {
      throw new KmsError('UnsupportedOperationException', `KeyPairSpec ${keyPairSpec} is not supported by this Trent version.`)
    }
    const aadContext = encodeEncryptionContext(context)
    const pkcs8 = await generatePrivateKey(keyPairSpec)
    try {
      // Read the domain after the await: it may have been replaced (and the old one zeroised) meanwhile.
      const domain = this.#ready()
      const pair = parseKeyPair(pkcs8, keyPairSpec)
      if (pair === undefined) throw new KmsError('KMSInternalException', 'A generated key pair did not parse')
      const publicKey = spki(pair.publicKey)
      const privateKeyCiphertextBlob = this.#withHbk(domain, key, ektFailedOnEncrypt, (hbk) => this.#seal(hbk, key, pkcs8, aadContext))
      return withPlaintext ? { publicKey, privateKeyCiphertextBlob, privateKeyPlaintext: pkcs8 } : { publicKey, privateKeyCiphertextBlob }
    } finally {
      if (!withPlaintext) zeroize(pkcs8)
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

  async createAuditSigningKey(): Promise<AuditSigningKey> {
    const domain = this.#ready()
    // An Ed25519 private key is a 32-byte seed; drawing it from the HSM's own generator keeps
    // injected (deterministic) random sources in charge of every key the HSM makes.
    const pkcs8 = concat(ED25519_PKCS8_PREFIX, this.#random(32))
    try {
      const publicKey = new Uint8Array(createPublicKey(ed25519Key(pkcs8)).export({ format: 'der', type: 'spki' }))
      return { wrappedKey: wrapAuditKey(activeDomainKey(domain), pkcs8, this.#random(GCM_IV_BYTES)), publicKey }
    } finally {
      zeroize(pkcs8)
    }
  }

  async signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<AuditSignature> {
    const domain = this.#ready()
    const pkcs8 = unwrapAuditKey(wrappedKey, domainKeyLookup(domain))
    /* Precondition: An audit digest is signed only with an audit signing key this domain wrapped. */
    if (pkcs8 === undefined) throw new KmsError('KMSInternalException', 'The audit signing key does not unwrap in this domain')
    try {
      const key = ed25519Key(pkcs8)
      return {
        signature: new Uint8Array(sign(null, message, key)),
        publicKey: new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' })),
      }
    } finally {
      zeroize(pkcs8)
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
    const cacheKey = materialCacheKey(key)
    let hbk = this.#cache.get(cacheKey)
    let owned = false
    if (hbk === undefined) {
      hbk = unwrapMaterial(domain, key, fail)
      if (this.#cache.enabled) this.#cache.set(cacheKey, hbk)
      else owned = true
    }
    try {
      return use(hbk)
    } finally {
      if (owned) zeroize(hbk)
    }
  }

  /** Runs `use` with the key's parsed key pair, from the cache or unwrapped and parsed from its PKCS#8 EKT. */
  #withPair<T>(domain: DomainState, key: KeyMaterialRef, use: (pair: KeyPair) => T): T {
    /* Precondition: A key-pair operation runs only on a key spec that has a key pair. */
    if (!isKeyPairSpec(key.keySpec)) {
      throw new KmsError('InvalidKeyUsageException', `${key.keyArn} key spec ${key.keySpec} has no public key.`) // Guessed wording
    }
    const cacheKey = materialCacheKey(key)
    let pair = this.#pairs.get(cacheKey)
    if (pair === undefined) {
      const pkcs8 = unwrapMaterial(domain, key, ektFailedOnEncrypt)
      try {
        pair = parseKeyPair(pkcs8, key.keySpec)
      } finally {
        zeroize(pkcs8)
      }
      if (pair === undefined) ektFailedOnEncrypt()
      this.#pairs.set(cacheKey, pair)
    }
    return use(pair)
  }

  /** Fresh secret material of a key spec. Random draws: the HBK or HMAC key (OpenSSL makes key pairs). */
  async #newMaterial(keySpec: string): Promise<Uint8Array> {
    if (keySpec === 'SYMMETRIC_DEFAULT') return this.#random(HBK_BYTES)
    const hmacBytes = hmacKeyBytes(keySpec)
    if (hmacBytes !== undefined) return this.#random(hmacBytes)
    if (isKeyPairSpec(keySpec)) return generatePrivateKey(keySpec)
    throw new KmsError('UnsupportedOperationException', `The software HSM cannot generate ${keySpec} key material`)
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
    this.#pairs.clear()
  }
}

function invalidCiphertext(): never {
  throw new KmsError('InvalidCiphertextException')
}

function ektFailedOnEncrypt(): never {
  throw new KmsError('KMSInternalException', 'The key material token did not unwrap')
}

/**
 * The cache key of a key's material: JSON of the binding's strings is unambiguous and much cheaper
 * than encoding the AAD bytes; the EKT itself carries the domain key id.
 */
function materialCacheKey(key: KeyMaterialRef): string {
  // Unambiguous and much cheaper than base64 or the AAD bytes: both byte strings are
  // length-prefixed (the EKT carries the domain key id), the strings are JSON.
  return `${key.hbkId.length}:${latin1(key.hbkId)}${key.ekt.length}:${latin1(key.ekt)}${JSON.stringify([key.keyArn, key.keyId, key.keySpec, key.origin])}`
}

/** Unwraps a key's EKT for its binding (ARN, id, spec, origin, HBK id); the caller owns the result. */
function unwrapMaterial(domain: DomainState, key: KeyMaterialRef, fail: () => never): Uint8Array {
  if (wrappedDomainKeyId(key.ekt) === undefined || key.hbkId.length !== HBK_ID_BYTES) fail()
  const binding = { keyArn: key.keyArn, keyId: key.keyId, keySpec: key.keySpec, origin: key.origin, hbkId: key.hbkId }
  return unwrapEkt(key.ekt, domainKeyLookup(domain), binding) ?? fail()
}

function checkMacMessage(message: Uint8Array): void {
  /* Precondition: A message to MAC is at most 4096 bytes. */
  if (message.length > MAX_MESSAGE_BYTES) {
    throw new KmsError('ValidationException', `Message must be at most ${MAX_MESSAGE_BYTES} bytes`)
  }
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

/** PKCS#8 DER of an Ed25519 private key up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

function ed25519Key(pkcs8: Uint8Array): ReturnType<typeof createPrivateKey> {
  return createPrivateKey({ key: Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength), format: 'der', type: 'pkcs8' })
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
