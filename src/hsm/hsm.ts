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

/** GetParametersForImport's wrapping key as it leaves the HSM: only the private half wrapped. */
export interface ImportWrappingKey {
  /** DER SubjectPublicKeyInfo of the RSA wrapping key. */
  publicKey: Uint8Array
  /** The RSA private key (PKCS#8) wrapped under a domain key, bound to the KMS key ARN and the wrapping key spec. */
  wrappedPrivateKey: Uint8Array
}

/** How key material to import was wrapped: the wrapping key GetParametersForImport made, and the algorithm. */
export interface ImportWrapping {
  /** RSA_2048, RSA_3072 or RSA_4096. */
  wrappingKeySpec: string
  /** RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256. */
  wrappingAlgorithm: string
  wrappedPrivateKey: Uint8Array
}

/** Result of GenerateDataKey inside the HSM. */
export interface DataKey {
  ciphertextBlob: Uint8Array
  /** Present only when asked for; the caller zeroises it after use. */
  plaintext?: Uint8Array
}

/** Result of GenerateDataKeyPair inside the HSM. */
export interface DataKeyPair {
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array
  /** The PKCS#8 DER private key as a ciphertext blob under the wrapping key. */
  privateKeyCiphertextBlob: Uint8Array
  /** Present only when asked for; the caller zeroises it after use. */
  privateKeyPlaintext?: Uint8Array
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
  /**
   * Generates a key's material and returns its id and EKT: a 256-bit HBK for SYMMETRIC_DEFAULT, a
   * private key (PKCS#8) for RSA and ECC specs, an HMAC key as long as the hash for HMAC specs.
   */
  generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial>
  /**
   * Generates an RSA wrapping key for importing material into the key `binding` names. The private
   * key leaves the HSM only wrapped under a domain key and bound to that key and spec.
   */
  generateWrappingKey(binding: KeyBinding, wrappingKeySpec: string): Promise<ImportWrappingKey>
  /**
   * Unwraps imported key material with the wrapping key and returns it as new key material of
   * `binding`: its EKT, and an HBK id derived from the material and the key (HMAC under a domain
   * secret), so that importing the same material again gives the same id. What the material must
   * be depends on `binding.keySpec` (32 bytes for SYMMETRIC_DEFAULT). A wrap that does not open is
   * InvalidCiphertextException; material of the wrong form IncorrectKeyMaterialException.
   */
  importKeyMaterial(binding: KeyBinding, wrapping: ImportWrapping, encryptedKeyMaterial: Uint8Array): Promise<NewKeyMaterial>
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
  /** The DER SubjectPublicKeyInfo of an asymmetric key. */
  getPublicKey(key: KeyMaterialRef): Promise<Uint8Array>
  /** Signs a message (`RAW`) or a digest (`DIGEST`) with an asymmetric key's private key. */
  sign(key: KeyMaterialRef, message: Uint8Array, messageType: string, algorithm: string): Promise<Uint8Array>
  /** Checks a signature with the key's public key; false when it does not verify. */
  verify(key: KeyMaterialRef, message: Uint8Array, messageType: string, algorithm: string, signature: Uint8Array): Promise<boolean>
  /** RSAES-OAEP encryption under an RSA key's public key; returns the raw OAEP ciphertext. */
  encryptAsymmetric(key: KeyMaterialRef, plaintext: Uint8Array, algorithm: string): Promise<Uint8Array>
  /** RSAES-OAEP decryption with an RSA key's private key. */
  decryptAsymmetric(key: KeyMaterialRef, ciphertext: Uint8Array, algorithm: string): Promise<Uint8Array>
  /**
   * ReEncrypt where either side is asymmetric: `SYMMETRIC_DEFAULT` means a ciphertext blob under
   * the key and its context, `RSAES_OAEP_*` the raw OAEP ciphertext. The plaintext stays inside.
   */
  reEncryptAsymmetric(
    source: KeyMaterialRef,
    ciphertext: Uint8Array,
    sourceContext: EncryptionContext,
    sourceAlgorithm: string,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
    destinationAlgorithm: string,
  ): Promise<Uint8Array>
  /** HMAC of a message under an HMAC key. */
  generateMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string): Promise<Uint8Array>
  /** Checks a MAC in constant time; false when it does not match. */
  verifyMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string, mac: Uint8Array): Promise<boolean>
  /** Raw ECDH shared secret of a KEY_AGREEMENT key and a peer's DER SPKI public key. */
  deriveSharedSecret(key: KeyMaterialRef, peerPublicKey: Uint8Array): Promise<Uint8Array>
  /** Makes a key pair of `keyPairSpec` and encrypts its PKCS#8 private key under `key` (a symmetric key). */
  generateDataKeyPair(
    key: KeyMaterialRef,
    keyPairSpec: string,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKeyPair>
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
