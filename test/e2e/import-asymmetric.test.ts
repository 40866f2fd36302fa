import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, createPrivateKey } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DeriveSharedSecretCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  GenerateMacCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  RotateKeyOnDemandCommand,
  SignCommand,
  VerifyCommand,
  type AlgorithmSpec,
  type ImportKeyMaterialCommandInput,
  type KeySpec,
  type KeyUsageType,
  type KMSClient,
  type SigningAlgorithmSpec,
  type WrappingKeySpec,
} from '@aws-sdk/client-kms'
import { startServer, type RunningTrent } from '../../src/main.js'
import { Customer } from './byok-customer.js'
import { ACCOUNT, CREDENTIALS, REGION, rejectsWithKmsError as rejects, tempDataDir } from './harness.js'
import { ShiftedClock, clockedClient } from './shifted-clock.js'

const DAY = 24 * 60 * 60 * 1000
const NOT_EXPIRING: Partial<ImportKeyMaterialCommandInput> = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }

/**
 * BYOK for asymmetric and HMAC keys, the customer side done by the `openssl` command line as AWS's
 * import instructions describe: keys made by `openssl genpkey`, converted to DER PKCS#8, wrapped
 * with RSA_AES_KEY_WRAP (or RSAES_OAEP where the material fits one RSA block), imported; then
 * Trent's signatures, decryptions, MACs and shared secrets are checked against openssl with the
 * customer's original keys.
 */
describe('imported asymmetric and HMAC key material', () => {
  const data = tempDataDir()
  const clock = new ShiftedClock()
  const customer = new Customer()
  let trent: RunningTrent | undefined
  let kms: KMSClient

  before(async () => {
    assert.match(execFileSync('openssl', ['version']).toString(), /^OpenSSL 3\./, 'AES key wrap with padding and Ed25519 need OpenSSL 3')
    trent = await startServer({ host: '127.0.0.1', port: 0, dataDir: data.dir, region: REGION, accountId: ACCOUNT, admin: CREDENTIALS, clock })
    kms = clockedClient(trent.url, clock)
  })
  after(async () => {
    kms?.destroy()
    await trent?.close()
    customer.cleanup()
    data.cleanup()
  })

  async function externalKey(keySpec: KeySpec, keyUsage: KeyUsageType): Promise<{ id: string; arn: string }> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: keySpec, KeyUsage: keyUsage }))
    assert.deepEqual([KeyMetadata!.KeyState, KeyMetadata!.Enabled], ['PendingImport', false])
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }
  async function parameters(keyId: string, algorithm: AlgorithmSpec, spec: WrappingKeySpec = 'RSA_2048') {
    return kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }))
  }
  /** Gets parameters, wraps with openssl and imports; returns the KeyMaterialId. */
  async function importMaterial(keyId: string, material: Buffer, algorithm: AlgorithmSpec = 'RSA_AES_KEY_WRAP_SHA_256', extra = NOT_EXPIRING, spec: WrappingKeySpec = 'RSA_2048') {
    const p = await parameters(keyId, algorithm, spec)
    const res = await kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: customer.wrap(p.PublicKey!, algorithm, material), ...extra }))
    return res.KeyMaterialId!
  }
  async function describe_(keyId: string) {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!
  }
  async function sign(keyId: string, message: Buffer, algorithm: SigningAlgorithmSpec): Promise<Uint8Array> {
    return (await kms.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }))).Signature!
  }
  const rsa2048 = ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
  const p256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']

  it('RSA_2048 SIGN_VERIFY: an openssl key imported with RSA_AES_KEY_WRAP_SHA_256 signs in Trent; openssl verifies with the original public key', async () => {
    const key = await externalKey('RSA_2048', 'SIGN_VERIFY')
    const pair = customer.keyPair(rsa2048)
    // RSAES_OAEP cannot carry an RSA private key: AWS wants an RSA_AES algorithm for it.
    await rejects(parameters(key.id, 'RSAES_OAEP_SHA_256'), 'ValidationException', /RSAES_OAEP_SHA_256 .* cannot wrap RSA_2048 key material/)
    await rejects(parameters(key.id, 'RSAES_OAEP_SHA_1', 'RSA_4096'), 'ValidationException')
    const materialId = await importMaterial(key.id, pair.pkcs8)
    assert.match(materialId, /^[0-9a-f]{64}$/)
    const m = await describe_(key.id)
    assert.deepEqual([m.KeyState, m.Enabled, m.Origin, m.CurrentKeyMaterialId, m.ExpirationModel], ['Enabled', true, 'EXTERNAL', undefined, 'KEY_MATERIAL_DOES_NOT_EXPIRE'])
    assert.ok(m.SigningAlgorithms?.includes('RSASSA_PSS_SHA_256'))
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: key.id }))
    assert.deepEqual(Buffer.from(pub.PublicKey!), pair.publicDer, 'the public key is the customer\'s')

    const message = Buffer.from('signed in Trent by a key made outside it')
    const pkcs1 = await sign(key.id, message, 'RSASSA_PKCS1_V1_5_SHA_256')
    assert.ok(customer.verifies(pair.publicPem, message, pkcs1, ['dgst', '-sha256']))
    const pss = await sign(key.id, message, 'RSASSA_PSS_SHA_384')
    assert.ok(customer.verifies(pair.publicPem, message, pss, ['dgst', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1']))
    assert.ok(!customer.verifies(pair.publicPem, Buffer.from('another message'), pkcs1, ['dgst', '-sha256']), 'openssl does refuse')
  })

  it('RSA_2048 ENCRYPT_DECRYPT: openssl encrypts to the original public key, Trent decrypts; after delete and re-import too', async () => {
    const key = await externalKey('RSA_2048', 'ENCRYPT_DECRYPT')
    const pair = customer.keyPair(rsa2048)
    const materialId = await importMaterial(key.id, pair.pkcs8, 'RSA_AES_KEY_WRAP_SHA_1', NOT_EXPIRING, 'RSA_3072')
    const ciphertext = customer.oaepEncrypt(pair.publicPem, 'sha256', customer.write(Buffer.from('for the imported key')))
    const decrypt = async () => Buffer.from((await kms.send(new DecryptCommand({ KeyId: key.id, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).Plaintext!).toString()
    assert.equal(await decrypt(), 'for the imported key')

    const deleted = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.id }))
    assert.deepEqual([deleted.KeyId, deleted.KeyMaterialId], [key.arn, materialId])
    assert.deepEqual([(await describe_(key.id)).KeyState, (await describe_(key.id)).Enabled], ['PendingImport', false])
    await rejects(decrypt(), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    await rejects(kms.send(new GetPublicKeyCommand({ KeyId: key.id })), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    // Another RSA key is other material, and it changes nothing.
    await rejects(importMaterial(key.id, customer.keyPair(rsa2048).pkcs8), 'IncorrectKeyMaterialException')
    assert.equal((await describe_(key.id)).KeyState, 'PendingImport')
    // The same key, under another wrapping key and algorithm: the old ciphertext decrypts again.
    assert.equal(await importMaterial(key.id, pair.pkcs8, 'RSA_AES_KEY_WRAP_SHA_256', NOT_EXPIRING, 'RSA_4096'), materialId)
    assert.equal(await decrypt(), 'for the imported key')
  })

  it('ECC_NIST_P256: imported with RSAES_OAEP_SHA_256 (it fits); ECDSA verified by openssl; the material expires and the same key restores it', async () => {
    const key = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY')
    const pair = customer.keyPair(p256)
    const validTo = clock.now() + 2 * DAY
    const materialId = await importMaterial(key.id, pair.pkcs8, 'RSAES_OAEP_SHA_256', { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(validTo) })
    const m = await describe_(key.id)
    assert.deepEqual([m.KeyState, m.ExpirationModel, m.SigningAlgorithms, m.CurrentKeyMaterialId], ['Enabled', 'KEY_MATERIAL_EXPIRES', ['ECDSA_SHA_256'], undefined])
    assert.ok(Math.abs(m.ValidTo!.getTime() - validTo) < 1000)
    const message = Buffer.from('ecdsa by an imported key')
    const signature = await sign(key.id, message, 'ECDSA_SHA_256')
    assert.ok(customer.verifies(pair.publicPem, message, signature, ['dgst', '-sha256']))

    clock.offsetMs += 2 * DAY + 60_000
    await trent!.runKeyMaterialJobs()
    assert.deepEqual([(await describe_(key.id)).KeyState, (await describe_(key.id)).ExpirationModel], ['PendingImport', undefined])
    await rejects(sign(key.id, message, 'ECDSA_SHA_256'), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    // A P-256 key again, but not this one.
    await rejects(importMaterial(key.id, customer.keyPair(p256).pkcs8, 'RSAES_OAEP_SHA_1'), 'IncorrectKeyMaterialException')
    assert.equal(await importMaterial(key.id, pair.pkcs8, 'RSAES_OAEP_SHA_1'), materialId)
    const verified = await kms.send(new VerifyCommand({ KeyId: key.id, Message: message, MessageType: 'RAW', Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }))
    assert.equal(verified.SignatureValid, true, 'the signature made before the expiry still verifies')
  })

  it('ECC_NIST_P256 KEY_AGREEMENT: Trent\'s shared secret with a peer equals the one openssl derives from the peer\'s side', async () => {
    const key = await externalKey('ECC_NIST_P256', 'KEY_AGREEMENT')
    const pair = customer.keyPair(p256)
    await importMaterial(key.id, pair.pkcs8)
    const peer = customer.keyPair(p256)
    const r = await kms.send(new DeriveSharedSecretCommand({ KeyId: key.id, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicDer }))
    assert.deepEqual(Buffer.from(r.SharedSecret!), customer.derive(peer.privatePem, pair.publicPem))
  })

  it('ECC_NIST_EDWARDS25519: an openssl Ed25519 key signs in Trent; openssl verifies', async () => {
    const key = await externalKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')
    const pair = customer.keyPair(['-algorithm', 'ED25519'])
    await importMaterial(key.id, pair.pkcs8, 'RSAES_OAEP_SHA_256')
    const message = Buffer.from('pure EdDSA')
    assert.ok(customer.verifiesEd25519(pair.publicPem, message, await sign(key.id, message, 'ED25519_SHA_512')))
  })

  it('ECC_NIST_EDWARDS25519: the RFC 8032 test vector (section 7.1, TEST 2) signs and verifies byte for byte', async () => {
    // Published vector: secret key, public key, message 0x72 and its (deterministic) signature.
    const seed = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'
    const publicKey = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'
    const signature = Buffer.from(
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
      'hex',
    )
    const message = Buffer.from([0x72])
    const key = await externalKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')
    // DER PKCS#8 of an Ed25519 seed (RFC 8410): the fixed prefix, then the 32 bytes.
    await importMaterial(key.id, Buffer.from(`302e020100300506032b657004220420${seed}`, 'hex'))
    const spki = Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: key.id }))).PublicKey!)
    assert.equal(spki.subarray(-32).toString('hex'), publicKey)
    assert.deepEqual(Buffer.from(await sign(key.id, message, 'ED25519_SHA_512')), signature)
    const verify = (m: Buffer, sig: Uint8Array) =>
      kms.send(new VerifyCommand({ KeyId: key.id, Message: m, MessageType: 'RAW', Signature: sig, SigningAlgorithm: 'ED25519_SHA_512' }))
    assert.equal((await verify(message, signature)).SignatureValid, true)
    const tampered = Buffer.from(signature)
    tampered[10]! ^= 1
    await rejects(verify(message, tampered), 'KMSInvalidSignatureException')
    await rejects(verify(Buffer.from([0x73]), signature), 'KMSInvalidSignatureException')
  })

  it('ECC_NIST_P256: the RFC 6979 (A.2.5, SHA-256, "sample") signature verifies in Trent, as RAW and as DIGEST', async () => {
    // Published vector: private key x, public point (Ux, Uy), and the signature (r, s) of "sample".
    const hex = (h: string) => Buffer.from(h, 'hex').toString('base64url')
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      d: hex('C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721'),
      x: hex('60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6'),
      y: hex('7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299'),
    }
    const pkcs8 = createPrivateKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' })
    const key = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY')
    await importMaterial(key.id, pkcs8)
    // (r, s) as the DER ECDSA-Sig-Value KMS takes: both have the top bit set, so each gets a 0x00.
    const r = 'EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716'
    const s = 'F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8'
    const signature = Buffer.from(`3046022100${r}022100${s}`, 'hex')
    const message = Buffer.from('sample')
    const verify = (m: Buffer, type: 'RAW' | 'DIGEST', sig: Uint8Array) =>
      kms.send(new VerifyCommand({ KeyId: key.id, Message: m, MessageType: type, Signature: sig, SigningAlgorithm: 'ECDSA_SHA_256' }))
    assert.equal((await verify(message, 'RAW', signature)).SignatureValid, true)
    assert.equal((await verify(createHash('sha256').update(message).digest(), 'DIGEST', signature)).SignatureValid, true)
    await rejects(verify(Buffer.from('sample!'), 'RAW', signature), 'KMSInvalidSignatureException')
  })

  for (const [keySpec, curve, algorithm, digest] of [['ECC_NIST_P384', 'P-384', 'ECDSA_SHA_384', '-sha384'], ['ECC_SECG_P256K1', 'secp256k1', 'ECDSA_SHA_256', '-sha256']] as const) {
    it(`${keySpec}: an openssl ${curve} key signs in Trent; openssl verifies`, async () => {
      const key = await externalKey(keySpec, 'SIGN_VERIFY')
      const pair = customer.keyPair(['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`])
      await importMaterial(key.id, pair.pkcs8, 'RSA_AES_KEY_WRAP_SHA_1')
      assert.deepEqual(Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: key.id }))).PublicKey!), pair.publicDer)
      const message = Buffer.from(`signed with ${curve}`)
      assert.ok(customer.verifies(pair.publicPem, message, await sign(key.id, message, algorithm), ['dgst', digest]))
    })
  }

  it('refuses material of another key spec: curve, type or size', async () => {
    const p256Key = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY')
    for (const other of [['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], ['-algorithm', 'ED25519'], rsa2048]) {
      await rejects(importMaterial(p256Key.id, customer.keyPair(other).pkcs8), 'IncorrectKeyMaterialException', /not a DER-encoded PKCS #8 private key of key spec ECC_NIST_P256/)
    }
    const rsa3072Key = await externalKey('RSA_3072', 'SIGN_VERIFY')
    await rejects(importMaterial(rsa3072Key.id, customer.keyPair(rsa2048).pkcs8), 'IncorrectKeyMaterialException')
    // PEM is not DER.
    const pem = Buffer.from(execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', customer.keyPair(p256).privatePem]))
    await rejects(importMaterial(p256Key.id, pem), 'IncorrectKeyMaterialException')
    assert.equal((await describe_(p256Key.id)).KeyState, 'PendingImport', 'nothing changed')
    // With an RSA_2048 wrapping key, RSAES_OAEP cannot carry P-521 material; RSA_3072 can.
    const p521Key = await externalKey('ECC_NIST_P521', 'SIGN_VERIFY')
    await rejects(parameters(p521Key.id, 'RSAES_OAEP_SHA_256', 'RSA_2048'), 'ValidationException', /cannot wrap ECC_NIST_P521 key material/)
    const p521 = customer.keyPair(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'])
    await importMaterial(p521Key.id, p521.pkcs8, 'RSAES_OAEP_SHA_256', NOT_EXPIRING, 'RSA_3072')
    const message = Buffer.from('p-521')
    assert.ok(customer.verifies(p521.publicPem, message, await sign(p521Key.id, message, 'ECDSA_SHA_512'), ['dgst', '-sha512']))
  })

  it('HMAC_256: 32 random bytes imported; GenerateMac equals openssl dgst -mac HMAC; lengths outside 256 to 512 bits refused', async () => {
    const key = await externalKey('HMAC_256', 'GENERATE_VERIFY_MAC')
    await rejects(importMaterial(key.id, customer.material(16), 'RSAES_OAEP_SHA_256'), 'IncorrectKeyMaterialException', 'HMAC_256 key material must be 256 to 512 bits.')
    await rejects(importMaterial(key.id, customer.material(65), 'RSAES_OAEP_SHA_256'), 'IncorrectKeyMaterialException')
    const material = customer.material(32)
    const materialId = await importMaterial(key.id, material, 'RSAES_OAEP_SHA_256')
    const m = await describe_(key.id)
    assert.deepEqual([m.KeyState, m.MacAlgorithms, m.CurrentKeyMaterialId], ['Enabled', ['HMAC_SHA_256'], undefined])
    const message = Buffer.from('authenticated by imported HMAC material')
    const mac = async () => Buffer.from((await kms.send(new GenerateMacCommand({ KeyId: key.id, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!)
    assert.deepEqual(await mac(), customer.hmacSha256(material, message))
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.id }))
    await rejects(mac(), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    await rejects(importMaterial(key.id, customer.material(32), 'RSA_AES_KEY_WRAP_SHA_256'), 'IncorrectKeyMaterialException')
    assert.equal(await importMaterial(key.id, material, 'RSA_AES_KEY_WRAP_SHA_256'), materialId)
    assert.deepEqual(await mac(), customer.hmacSha256(material, message))

    const longKey = await externalKey('HMAC_512', 'GENERATE_VERIFY_MAC')
    const long = customer.material(128)
    await importMaterial(longKey.id, long, 'RSAES_OAEP_SHA_256')
    const mac512 = (await kms.send(new GenerateMacCommand({ KeyId: longKey.id, Message: message, MacAlgorithm: 'HMAC_SHA_512' }))).Mac!
    const expected = execFileSync('openssl', ['dgst', '-sha512', '-mac', 'HMAC', '-macopt', `hexkey:${long.toString('hex')}`, '-binary', customer.write(message)])
    assert.deepEqual(Buffer.from(mac512), expected)
  })

  it('imported asymmetric and HMAC keys never change material: no rotation, no NEW_KEY_MATERIAL', async () => {
    const keys: Array<[{ id: string; arn: string }, () => Buffer]> = [
      [await externalKey('ECC_NIST_P256', 'SIGN_VERIFY'), () => customer.keyPair(p256).pkcs8],
      [await externalKey('HMAC_384', 'GENERATE_VERIFY_MAC'), () => customer.material(48)],
    ]
    for (const [key, make] of keys) {
      const material = make()
      await importMaterial(key.id, material, 'RSAES_OAEP_SHA_256')
      // AWS sends an empty message with this refusal, which the SDK shows as 'UnknownError'.
      const nonSymmetric = 'UnknownError'
      await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id })), 'UnsupportedOperationException', nonSymmetric)
      await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: key.id })), 'UnsupportedOperationException', nonSymmetric)
      assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).KeyRotationEnabled, false)
      const other = make()
      const newMaterial = { ...NOT_EXPIRING, ImportType: 'NEW_KEY_MATERIAL' as const }
      await rejects(importMaterial(key.id, other, 'RSAES_OAEP_SHA_256', newMaterial), 'UnsupportedOperationException', /only symmetric encryption keys support new key material/)
      await rejects(importMaterial(key.id, other, 'RSAES_OAEP_SHA_256'), 'IncorrectKeyMaterialException')
      // Re-importing the same material (the default, EXISTING_KEY_MATERIAL) is how expiry changes.
      await importMaterial(key.id, material, 'RSAES_OAEP_SHA_256', { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() + DAY) })
      assert.equal((await describe_(key.id)).ExpirationModel, 'KEY_MATERIAL_EXPIRES')
    }
  })
})
