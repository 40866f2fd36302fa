import assert from 'node:assert/strict'
import { constants, createCipheriv, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, verify, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import { isKmsError } from '../core/errors.js'
import type { ImportWrapping, KeyBinding } from './hsm.js'
import { SoftwareHsm } from './software-hsm.js'

const SEAL_KEY = new Uint8Array(32).fill(0x3c)
const KEY_A = '1234abcd-12ab-34cd-56ef-1234567890ab'
const KEY_B = 'abcdef01-2345-6789-abcd-ef0123456789'

function binding(keyId: string, keySpec = 'SYMMETRIC_DEFAULT'): KeyBinding {
  return { keyArn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`, keyId, keySpec, origin: 'EXTERNAL' }
}

async function readyHsm(): Promise<{ hsm: SoftwareHsm; sealed: Uint8Array }> {
  const hsm = await SoftwareHsm.create({ sealKey: SEAL_KEY })
  return { hsm, sealed: await hsm.initDomain() }
}

/** What a customer does with the public key, by node:crypto (the e2e tests do it with the openssl CLI). */
function wrap(publicKeyDer: Uint8Array, algorithm: string, material: Uint8Array): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' })
  const oaepHash = algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1'
  const rsa = (data: Uint8Array) => publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data)
  if (algorithm.startsWith('RSAES_OAEP')) return rsa(material)
  const aesKey = randomBytes(32)
  const cipher = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'))
  return Buffer.concat([rsa(aesKey), cipher.update(material), cipher.final()])
}

async function parameters(hsm: SoftwareHsm, b: KeyBinding, algorithm: string, spec = 'RSA_2048'): Promise<{ publicKey: Uint8Array; wrapping: ImportWrapping }> {
  const k = await hsm.generateWrappingKey(b, spec)
  return { publicKey: k.publicKey, wrapping: { wrappingKeySpec: spec, wrappingAlgorithm: algorithm, wrappedPrivateKey: k.wrappedPrivateKey } }
}

const is = (code: string) => (e: unknown) => isKmsError(e) && e.code === code

describe('SoftwareHsm key import', () => {
  it('imports 32-byte material under every wrapping algorithm; the material encrypts and decrypts as an HBK', async () => {
    const { hsm } = await readyHsm()
    for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']) {
      const b = binding(KEY_A)
      const p = await parameters(hsm, b, algorithm)
      const material = await hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, algorithm, randomBytes(32)))
      assert.equal(material.hbkId.length, 32)
      const ref = { ...b, ...material }
      const blob = await hsm.encrypt(ref, new TextEncoder().encode(algorithm), {})
      assert.equal(new TextDecoder().decode(await hsm.decrypt(ref, blob, {})), algorithm)
    }
  })

  it('derives the HBK id from the material and the key: the same for the same pair, in another HSM of the domain too', async () => {
    const { hsm, sealed } = await readyHsm()
    const other = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    await other.loadDomain(sealed)
    const material = randomBytes(32)
    const importInto = async (h: SoftwareHsm, b: KeyBinding, m: Uint8Array) => {
      const p = await parameters(h, b, 'RSAES_OAEP_SHA_256')
      return Buffer.from((await h.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSAES_OAEP_SHA_256', m))).hbkId).toString('hex')
    }
    const id = await importInto(hsm, binding(KEY_A), material)
    assert.equal(await importInto(other, binding(KEY_A), material), id)
    assert.notEqual(await importInto(hsm, binding(KEY_B), material), id, 'another key')
    assert.notEqual(await importInto(hsm, binding(KEY_A), randomBytes(32)), id, 'other material')
    const foreignDomain = (await readyHsm()).hsm
    assert.notEqual(await importInto(foreignDomain, binding(KEY_A), material), id, 'another domain')
  })

  it('refuses a wrapping key made for another key, a wrap that does not open, and material of the wrong length', async () => {
    const { hsm } = await readyHsm()
    const p = await parameters(hsm, binding(KEY_A), 'RSAES_OAEP_SHA_256')
    const good = wrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32))
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_B), p.wrapping, good), is('InvalidImportTokenException'))
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_A), { ...p.wrapping, wrappingKeySpec: 'RSA_3072' }, good), is('InvalidImportTokenException'))
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_A), { ...p.wrapping, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, good), is('InvalidCiphertextException'))
    const tampered = Uint8Array.from(good)
    tampered[10]! ^= 1
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_A), p.wrapping, tampered), is('InvalidCiphertextException'))
    const aesWrapped = wrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(32))
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_A), { ...p.wrapping, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' }, aesWrapped.subarray(0, 256 + 8)), is('InvalidCiphertextException'))
    await assert.rejects(hsm.importKeyMaterial(binding(KEY_A), p.wrapping, wrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(16))), is('IncorrectKeyMaterialException'))
    assert.ok(await hsm.importKeyMaterial(binding(KEY_A), p.wrapping, good), 'the right inputs still import')
  })

  it('imports HMAC material from the hash length to the block size, and refuses other lengths', async () => {
    const { hsm } = await readyHsm()
    const b = binding(KEY_A, 'HMAC_256')
    const p = await parameters(hsm, b, 'RSAES_OAEP_SHA_256')
    for (const bytes of [31, 65]) {
      await assert.rejects(hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(bytes))), is('IncorrectKeyMaterialException'))
    }
    const key = randomBytes(64)
    const ref = { ...b, ...(await hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSAES_OAEP_SHA_256', key))) }
    const message = new TextEncoder().encode('mac me')
    assert.deepEqual(Buffer.from(await hsm.generateMac(ref, message, 'HMAC_SHA_256')), createHmac('sha256', key).update(message).digest())
  })

  it('imports a PKCS#8 private key of the key spec, with the same id in another encoding, and signs with it', async () => {
    const { hsm } = await readyHsm()
    const b = binding(KEY_A, 'ECC_NIST_P256')
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const importPkcs8 = async (pkcs8: Uint8Array) => {
      const p = await parameters(hsm, b, 'RSA_AES_KEY_WRAP_SHA_256')
      return hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', pkcs8))
    }
    const material = await importPkcs8(privateKey.export({ format: 'der', type: 'pkcs8' }))
    // The same key as OpenSSL writes it without the optional public key: another encoding, the same material.
    const bare = ecPkcs8WithoutPublicKey(privateKey.export({ format: 'jwk' }).d!)
    assert.deepEqual((await importPkcs8(bare)).hbkId, material.hbkId)
    const ref = { ...b, ...material }
    assert.deepEqual(Buffer.from(await hsm.getPublicKey(ref)), publicKey.export({ format: 'der', type: 'spki' }))
    const message = new TextEncoder().encode('signed outside-made key')
    const signature = await hsm.sign(ref, message, 'RAW', 'ECDSA_SHA_256')
    assert.ok(verify('sha256', message, publicKey, signature))
  })

  it('refuses asymmetric material of another type, curve or size, material that is no PKCS#8, and an inconsistent key pair', async () => {
    const { hsm } = await readyHsm()
    const attempt = async (keySpec: string, pkcs8: Uint8Array) => {
      const b = binding(KEY_A, keySpec)
      const p = await parameters(hsm, b, 'RSA_AES_KEY_WRAP_SHA_256')
      return hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', pkcs8))
    }
    const der = (k: KeyObject) => k.export({ format: 'der', type: 'pkcs8' })
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const ed25519 = generateKeyPairSync('ed25519').privateKey
    for (const [spec, pkcs8] of [
      ['ECC_NIST_P256', der(p384)],
      ['ECC_SECG_P256K1', der(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey)],
      ['RSA_3072', der(rsa2048)],
      ['ECC_NIST_P384', der(ed25519)],
      ['ECC_NIST_EDWARDS25519', der(p384)],
      ['RSA_2048', randomBytes(1200)],
    ] as const) {
      await assert.rejects(attempt(spec, pkcs8), is('IncorrectKeyMaterialException'), spec)
    }
    // A P-384 private key carrying another key's public key.
    const other = p384.export({ format: 'jwk' })
    const mixed = createPrivateKey({ key: { ...generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'jwk' }), d: other.d! }, format: 'jwk' })
    await assert.rejects(attempt('ECC_NIST_P384', der(mixed)), is('IncorrectKeyMaterialException'))
    assert.ok(await attempt('ECC_NIST_P384', der(p384)))
    assert.ok(await attempt('ECC_NIST_EDWARDS25519', der(ed25519)))
  })
})

/** RFC 5915 ECPrivateKey in PKCS#8 with no optional public key, for P-256. */
function ecPkcs8WithoutPublicKey(dBase64url: string): Uint8Array {
  const d = Buffer.from(dBase64url, 'base64url')
  const ecPrivateKey = Buffer.concat([Buffer.from('30250201010420', 'hex'), d])
  const algorithm = Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex')
  const body = Buffer.concat([Buffer.from('020100', 'hex'), algorithm, Buffer.from([0x04, ecPrivateKey.length]), ecPrivateKey])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
