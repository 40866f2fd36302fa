import assert from 'node:assert/strict'
import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto'
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

  it('answers a clear UnsupportedOperationException for key specs whose material it cannot take yet', async () => {
    const { hsm } = await readyHsm()
    const b = binding(KEY_A, 'HMAC_256')
    const p = await parameters(hsm, b, 'RSAES_OAEP_SHA_256')
    await assert.rejects(hsm.importKeyMaterial(b, p.wrapping, wrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32))), (e: unknown) => is('UnsupportedOperationException')(e) && /HMAC_256/.test((e as Error).message))
    await assert.rejects(hsm.generateWrappingKey(binding(KEY_A), 'RSA_1024'), is('UnsupportedOperationException'))
  })
})
