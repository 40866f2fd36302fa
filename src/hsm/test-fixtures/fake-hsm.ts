import { KmsError } from '../../core/errors.js'
import type { EncryptionContext } from '../../core/types.js'
import type { AuditSignature, AuditSigningKey, DataKey, DataKeyPair, Hsm, ImportWrapping, ImportWrappingKey, KeyBinding, KeyMaterialRef, NewKeyMaterial } from '../hsm.js'

/**
 * TEST DOUBLE ONLY: an Hsm with fake, insecure "crypto" (byte reversal and tagging) for exercising
 * the channel, protocol and supervisor. Never wire it into anything that serves requests.
 *
 * Hooks for transport tests: a context entry `delayMs` delays the answer; `throw` makes the call
 * fail with that KmsError code (message from `message`), or with a plain Error when it is `plain`;
 * `requireDomain` fails with KMSInvalidStateException unless a domain was loaded or created.
 */
export class FakeHsm implements Hsm {
  /** Sealed domains loaded so far (the supervisor tests check setup ran on each child). */
  readonly loaded: Uint8Array[] = []
  calls = 0
  closed = false

  async initDomain(): Promise<Uint8Array> {
    const sealed = new TextEncoder().encode('fake-domain')
    this.loaded.push(sealed)
    return sealed
  }

  async loadDomain(sealedDomain: Uint8Array): Promise<void> {
    this.loaded.push(new Uint8Array(sealedDomain))
  }

  async generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial> {
    const id = new TextEncoder().encode(`${binding.keyArn}|${binding.keyId}|${binding.keySpec}|${binding.origin}`)
    return { hbkId: id.slice(0, 32), ekt: id }
  }

  async generateWrappingKey(binding: KeyBinding, wrappingKeySpec: string): Promise<ImportWrappingKey> {
    return { publicKey: new TextEncoder().encode(wrappingKeySpec), wrappedPrivateKey: new TextEncoder().encode(binding.keyArn) }
  }

  async importKeyMaterial(binding: KeyBinding, _wrapping: ImportWrapping, encryptedKeyMaterial: Uint8Array): Promise<NewKeyMaterial> {
    return { hbkId: Uint8Array.from(encryptedKeyMaterial).reverse().slice(0, 32), ekt: new TextEncoder().encode(binding.keyId) }
  }

  async encrypt(key: KeyMaterialRef, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    await this.#hooks(context)
    return Uint8Array.from([...key.hbkId.subarray(0, 1), ...plaintext].reverse())
  }

  async decrypt(key: KeyMaterialRef, blob: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    await this.#hooks(context)
    const forward = Uint8Array.from(blob).reverse()
    if (forward[0] !== key.hbkId[0]) throw new KmsError('InvalidCiphertextException')
    return forward.slice(1)
  }

  async generateDataKey(
    key: KeyMaterialRef,
    numberOfBytes: number,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKey> {
    const plaintext = new Uint8Array(numberOfBytes).fill(7)
    const ciphertextBlob = await this.encrypt(key, plaintext, context)
    return withPlaintext ? { ciphertextBlob, plaintext } : { ciphertextBlob }
  }

  async reEncrypt(
    source: KeyMaterialRef,
    blob: Uint8Array,
    sourceContext: EncryptionContext,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array> {
    return this.encrypt(destination, await this.decrypt(source, blob, sourceContext), destinationContext)
  }

  async generateRandom(numberOfBytes: number): Promise<Uint8Array> {
    this.calls++
    if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
      throw new KmsError('ValidationException', `bad NumberOfBytes ${numberOfBytes}`)
    }
    return new Uint8Array(numberOfBytes).fill(numberOfBytes & 0xff)
  }

  async wrapSecret(accessKeyId: string, secret: Uint8Array): Promise<Uint8Array> {
    return Uint8Array.from([...new TextEncoder().encode(accessKeyId), 0, ...secret])
  }

  async deriveSigningKey(
    accessKeyId: string,
    wrappedSecret: Uint8Array,
    date: string,
    region: string,
    service: string,
  ): Promise<Uint8Array> {
    return new TextEncoder().encode(`${accessKeyId}/${wrappedSecret.length}/${date}/${region}/${service}`)
  }

  async getPublicKey(key: KeyMaterialRef): Promise<Uint8Array> {
    return key.hbkId.slice()
  }

  async sign(key: KeyMaterialRef, message: Uint8Array, messageType: string, algorithm: string): Promise<Uint8Array> {
    return new TextEncoder().encode(`${key.keyId}|${messageType}|${algorithm}|${Buffer.from(message).toString('hex')}`)
  }

  async verify(key: KeyMaterialRef, message: Uint8Array, messageType: string, algorithm: string, signature: Uint8Array): Promise<boolean> {
    return Buffer.from(await this.sign(key, message, messageType, algorithm)).equals(signature)
  }

  async encryptAsymmetric(key: KeyMaterialRef, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.encrypt(key, plaintext, {})
  }

  async decryptAsymmetric(key: KeyMaterialRef, ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.decrypt(key, ciphertext, {})
  }

  async reEncryptAsymmetric(
    source: KeyMaterialRef,
    ciphertext: Uint8Array,
    sourceContext: EncryptionContext,
    _sourceAlgorithm: string,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array> {
    return this.reEncrypt(source, ciphertext, sourceContext, destination, destinationContext)
  }

  async generateMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string): Promise<Uint8Array> {
    return this.sign(key, message, 'MAC', algorithm)
  }

  async verifyMac(key: KeyMaterialRef, message: Uint8Array, algorithm: string, mac: Uint8Array): Promise<boolean> {
    return this.verify(key, message, 'MAC', algorithm, mac)
  }

  async deriveSharedSecret(key: KeyMaterialRef, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    return Uint8Array.from([...key.hbkId.subarray(0, 1), ...peerPublicKey])
  }

  async generateDataKeyPair(key: KeyMaterialRef, keyPairSpec: string, context: EncryptionContext, withPlaintext: boolean): Promise<DataKeyPair> {
    const privateKeyPlaintext = new TextEncoder().encode(`private ${keyPairSpec}`)
    const privateKeyCiphertextBlob = await this.encrypt(key, privateKeyPlaintext, context)
    const publicKey = new TextEncoder().encode(`public ${keyPairSpec}`)
    return withPlaintext ? { publicKey, privateKeyCiphertextBlob, privateKeyPlaintext } : { publicKey, privateKeyCiphertextBlob }
  }

  async createAuditSigningKey(): Promise<AuditSigningKey> {
    return { wrappedKey: new TextEncoder().encode('fake-audit-key'), publicKey: new TextEncoder().encode('fake-public-key') }
  }

  async signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<AuditSignature> {
    return { signature: Uint8Array.from([...wrappedKey.subarray(0, 4), message.length & 0xff]), publicKey: new TextEncoder().encode('fake-public-key') }
  }

  async close(): Promise<void> {
    this.closed = true
  }

  async #hooks(context: EncryptionContext): Promise<void> {
    this.calls++
    const delay = context['delayMs']
    if (delay !== undefined) await new Promise((r) => setTimeout(r, Number(delay)))
    if (context['requireDomain'] !== undefined && this.loaded.length === 0) {
      throw new KmsError('KMSInvalidStateException', 'no domain loaded')
    }
    const code = context['throw']
    if (code === 'plain') throw new Error('internal detail that must not cross')
    if (code !== undefined) throw new KmsError(code as KmsError['code'], context['message'] ?? '')
  }
}
