import type { EncryptionContext } from '../core/types.js'

/**
 * What an EKT is bound to. The HSM rebuilds the EKT's additional authenticated data from these
 * fields, so an EKT presented for another key, spec or origin does not unwrap.
 */
export interface KeyBinding {
  /** Full key ARN. */
  keyArn: string
  /** Key id as it is written into ciphertext blobs (the last part of the ARN). */
  keyId: string
  keySpec: string
  origin: string
}

/** One version of a key's material as the front end stores it: an HBK id and its EKT. */
export interface KeyMaterialRef extends KeyBinding {
  /** 32-byte HBK identifier (hex of it is the API's KeyMaterialId). */
  hbkId: Uint8Array
  /** The HBK wrapped under a domain key. */
  ekt: Uint8Array
}

/** A new HBK, as it leaves the HSM: only its id and its EKT. */
export interface NewKeyMaterial {
  hbkId: Uint8Array
  ekt: Uint8Array
}

/** Result of GenerateDataKey inside the HSM. */
export interface DataKey {
  ciphertextBlob: Uint8Array
  /** Present only when asked for; the caller zeroises it after use. */
  plaintext?: Uint8Array
}

/** The audit trail's signing key as it leaves the HSM: wrapped, and its public key. */
export interface AuditSigningKey {
  wrappedKey: Uint8Array
  /** SubjectPublicKeyInfo DER of the Ed25519 public key. */
  publicKey: Uint8Array
}

/** An audit digest signature and the public key that verifies it. */
export interface AuditSignature {
  signature: Uint8Array
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array
}

/**
 * The crypto world's command interface. The front end holds only EKTs, wrapped secrets and blobs;
 * HBKs, domain keys and credential secrets never cross this interface in plaintext.
 *
 * Cryptographic failures on decrypt paths throw `KmsError('InvalidCiphertextException')` with an
 * empty message, the same for every cause. Any other failure is `KMSInternalException`.
 */
export interface Hsm {
  /** Creates a new domain (domain key, id) and returns it sealed for storage. Loads it, too. */
  initDomain(): Promise<Uint8Array>
  /** Unseals a stored domain and makes it the active one. */
  loadDomain(sealedDomain: Uint8Array): Promise<void>
  /** Generates a 256-bit HBK for a key and returns its id and EKT. */
  generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial>
  /** Encrypts up to 4096 bytes under a per-request key derived from the HBK; returns a ciphertext blob. */
  encrypt(key: KeyMaterialRef, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array>
  /** Decrypts a ciphertext blob made under `key`. */
  decrypt(key: KeyMaterialRef, blob: Uint8Array, context: EncryptionContext): Promise<Uint8Array>
  /** Makes `numberOfBytes` random bytes inside the HSM and encrypts them under `key`. */
  generateDataKey(
    key: KeyMaterialRef,
    numberOfBytes: number,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKey>
  /** Decrypts under `source` and encrypts under `destination` without the plaintext leaving the HSM. */
  reEncrypt(
    source: KeyMaterialRef,
    blob: Uint8Array,
    sourceContext: EncryptionContext,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array>
  /** Random bytes from the HSM's generator. */
  generateRandom(numberOfBytes: number): Promise<Uint8Array>
  /** Wraps a SigV4 secret access key under the domain key, bound to its access key id. */
  wrapSecret(accessKeyId: string, secret: Uint8Array): Promise<Uint8Array>
  /**
   * Derives the SigV4 signing key HMAC chain (kDate → kRegion → kService → kSigning) from a wrapped
   * secret, so the secret itself never leaves the HSM. `date` is `YYYYMMDD`.
   */
  deriveSigningKey(
    accessKeyId: string,
    wrappedSecret: Uint8Array,
    date: string,
    region: string,
    service: string,
  ): Promise<Uint8Array>
  /**
   * Creates the audit trail's digest-signing key (Ed25519) inside the HSM. Returns the private key
   * wrapped under the active domain key, for the front end to store, and its public key (SPKI DER).
   */
  createAuditSigningKey(): Promise<AuditSigningKey>
  /**
   * Signs an audit digest with the audit signing key `wrappedKey` made by createAuditSigningKey.
   * Returns the Ed25519 signature and the key's public key (SPKI DER), so the caller can check it
   * signed with the key it expected.
   */
  signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<AuditSignature>
  /** Releases the HSM connection or state. */
  close(): Promise<void>
}
