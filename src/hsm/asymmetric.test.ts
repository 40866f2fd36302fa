import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { constants, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, privateDecrypt, publicEncrypt, verify, type KeyObject } from 'node:crypto'
import { isKmsError } from '../core/errors.js'
import { KEY_SPEC_RULES, SIGNING_HASH, type SigningAlgorithm } from '../core/key-specs.js'
import type { KeySpec } from '../core/types.js'
import type { KeyMaterialRef } from './hsm.js'
import { SoftwareHsm } from './software-hsm.js'

const KEY_A = '1234abcd-12ab-34cd-56ef-1234567890ab'
const KEY_B = 'abcdef01-2345-6789-abcd-ef0123456789'
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const code = (name: string, message?: string | RegExp) => (e: unknown): boolean =>
  isKmsError(e, name as never) && (message === undefined || (typeof message === 'string' ? e.message === message : message.test(e.message)))

async function readyHsm(cacheSize?: number): Promise<SoftwareHsm> {
  const hsm = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(0x5e), ...(cacheSize === undefined ? {} : { cacheSize }) })
  await hsm.initDomain()
  return hsm
}

async function newKey(hsm: SoftwareHsm, keySpec: string, keyId = KEY_A): Promise<KeyMaterialRef> {
  const b = { keyArn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`, keyId, keySpec, origin: 'AWS_KMS' }
  return { ...b, ...(await hsm.generateKeyMaterial(b)) }
}

function publicKeyOf(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
}

/** Verifies with node:crypto over the original message, whatever MessageType Trent signed with. */
function independentlyVerifies(publicKey: KeyObject, algorithm: string, message: Uint8Array, signature: Uint8Array): boolean {
  if (algorithm === 'ED25519_SHA_512') return verify(null, message, publicKey, signature)
  const hash = SIGNING_HASH[algorithm as SigningAlgorithm]!.hash
  const options = algorithm.startsWith('RSASSA_PSS')
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SIGNING_HASH[algorithm as SigningAlgorithm]!.digestBytes }
    : algorithm.startsWith('RSASSA_PKCS1') ? { padding: constants.RSA_PKCS1_PADDING } : { dsaEncoding: 'der' as const }
  return verify(hash, message, { key: publicKey, ...options }, signature)
}

describe('SoftwareHsm asymmetric keys', () => {
  const SIGN_SPECS: KeySpec[] = ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519']

  it('generates each spec inside the HSM and returns only an EKT; GetPublicKey is the matching DER SPKI', async () => {
    const hsm = await readyHsm()
    const expected: Record<string, [string, string | number | undefined]> = {
      RSA_2048: ['rsa', 2048], RSA_3072: ['rsa', 3072], RSA_4096: ['rsa', 4096],
      ECC_NIST_P256: ['ec', 'prime256v1'], ECC_NIST_P384: ['ec', 'secp384r1'], ECC_NIST_P521: ['ec', 'secp521r1'],
      ECC_SECG_P256K1: ['ec', 'secp256k1'], ECC_NIST_EDWARDS25519: ['ed25519', undefined],
    }
    for (const [spec, [type, detail]] of Object.entries(expected)) {
      const key = await newKey(hsm, spec)
      // The EKT is the PKCS#8 encrypted: it is not parseable as a key.
      assert.throws(() => createPublicKey({ key: Buffer.from(key.ekt), format: 'der', type: 'spki' }))
      const pub = publicKeyOf(await hsm.getPublicKey(key))
      assert.equal(pub.asymmetricKeyType, type, spec)
      const d = pub.asymmetricKeyDetails
      if (type === 'rsa') assert.equal(d?.modulusLength, detail)
      if (type === 'ec') assert.equal(d?.namedCurve, detail)
    }
  })

  it('HMAC keys are as long as their hash and MAC like node:crypto', async () => {
    const hsm = await readyHsm(0)
    for (const [spec, hash, length] of [['HMAC_224', 'sha224', 28], ['HMAC_256', 'sha256', 32], ['HMAC_384', 'sha384', 48], ['HMAC_512', 'sha512', 64]] as const) {
      const key = await newKey(hsm, spec)
      assert.equal(key.ekt.length, 77 - 32 + length)
      const algorithm = KEY_SPEC_RULES[spec].macAlgorithms![0]!
      const mac = await hsm.generateMac(key, bytes('hello'), algorithm)
      assert.equal(mac.length, createHmac(hash, 'k').digest().length)
      assert.equal(await hsm.verifyMac(key, bytes('hello'), algorithm, mac), true)
      assert.equal(await hsm.verifyMac(key, bytes('hellO'), algorithm, mac), false)
      await assert.rejects(hsm.generateMac(key, bytes('x'), spec === 'HMAC_224' ? 'HMAC_SHA_256' : 'HMAC_SHA_224'), code('InvalidKeyUsageException', /is incompatible with key spec/))
    }
  })

  it('signs RAW and DIGEST messages that node:crypto verifies over the original message, and verifies them itself', async () => {
    const hsm = await readyHsm()
    const message = bytes('release v1.2.3')
    for (const spec of SIGN_SPECS) {
      const key = await newKey(hsm, spec)
      const pub = publicKeyOf(await hsm.getPublicKey(key))
      for (const algorithm of KEY_SPEC_RULES[spec].signingAlgorithms!) {
        if (algorithm === 'ED25519_PH_SHA_512') continue
        const types = algorithm === 'ED25519_SHA_512' ? ['RAW'] : ['RAW', 'DIGEST']
        for (const messageType of types) {
          const input = messageType === 'RAW' ? message : createHash(SIGNING_HASH[algorithm as SigningAlgorithm]!.hash).update(message).digest()
          const signature = await hsm.sign(key, input, messageType, algorithm)
          assert.ok(independentlyVerifies(pub, algorithm, message, signature), `${spec} ${algorithm} ${messageType}`)
          assert.equal(await hsm.verify(key, input, messageType, algorithm, signature), true, `${spec} ${algorithm} ${messageType}`)
          const tampered = signature.slice()
          tampered[tampered.length - 1]! ^= 1
          assert.equal(await hsm.verify(key, input, messageType, algorithm, tampered), false)
          assert.equal(await hsm.verify(key, input, messageType, algorithm, new Uint8Array([0x30, 0])), false)
        }
      }
    }
  })

  it('verifies DIGEST signatures that node:crypto made, and refuses them for another digest', async () => {
    const hsm = await readyHsm()
    for (const spec of ['ECC_NIST_P384', 'RSA_2048'] as const) {
      const key = await newKey(hsm, spec)
      const other = await newKey(hsm, spec, KEY_B)
      const algorithm = spec === 'RSA_2048' ? 'RSASSA_PSS_SHA_384' : 'ECDSA_SHA_384'
      const signature = await hsm.sign(key, bytes('m'), 'RAW', algorithm)
      const digest = createHash('sha384').update('m').digest()
      assert.equal(await hsm.verify(key, digest, 'DIGEST', algorithm, signature), true)
      assert.equal(await hsm.verify(key, createHash('sha384').update('n').digest(), 'DIGEST', algorithm, signature), false)
      assert.equal(await hsm.verify(other, digest, 'DIGEST', algorithm, signature), false)
    }
  })

  it('checks the digest length, the message type and the algorithm with AWS\'s errors', async () => {
    const hsm = await readyHsm()
    const p256 = await newKey(hsm, 'ECC_NIST_P256')
    await assert.rejects(hsm.sign(p256, new Uint8Array(31), 'DIGEST', 'ECDSA_SHA_256'), code('ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.'))
    await assert.rejects(hsm.sign(p256, bytes('m'), 'RAW', 'ECDSA_SHA_384'), code('InvalidKeyUsageException', 'Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.'))
    await assert.rejects(hsm.sign(p256, new Uint8Array(64), 'EXTERNAL_MU', 'ECDSA_SHA_256'), code('ValidationException'))
    const ed = await newKey(hsm, 'ECC_NIST_EDWARDS25519')
    await assert.rejects(hsm.sign(ed, new Uint8Array(64), 'DIGEST', 'ED25519_SHA_512'), code('ValidationException'))
    await assert.rejects(hsm.sign(ed, new Uint8Array(64), 'DIGEST', 'ED25519_PH_SHA_512'), code('UnsupportedOperationException'))
    const hmacKey = await newKey(hsm, 'HMAC_256')
    await assert.rejects(hsm.sign(hmacKey, bytes('m'), 'RAW', 'ECDSA_SHA_256'), code('InvalidKeyUsageException'))
  })

  it('RSA-OAEP: interoperates with node:crypto both ways and enforces AWS\'s plaintext limits', async () => {
    const hsm = await readyHsm()
    const limits: Record<string, [number, number]> = { RSA_2048: [214, 190], RSA_3072: [342, 318], RSA_4096: [470, 446] }
    for (const [spec, [sha1, sha256]] of Object.entries(limits)) {
      const key = await newKey(hsm, spec)
      const pub = publicKeyOf(await hsm.getPublicKey(key))
      for (const [algorithm, hash, max] of [['RSAES_OAEP_SHA_1', 'sha1', sha1], ['RSAES_OAEP_SHA_256', 'sha256', sha256]] as const) {
        const offline = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, new Uint8Array(max).fill(1))
        assert.deepEqual(await hsm.decryptAsymmetric(key, offline, algorithm), new Uint8Array(max).fill(1))
        const online = await hsm.encryptAsymmetric(key, bytes('secret'), algorithm)
        assert.deepEqual(await hsm.decryptAsymmetric(key, online, algorithm), bytes('secret'))
        await assert.rejects(hsm.decryptAsymmetric(key, online, algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1'), code('InvalidCiphertextException', ''))
        await assert.rejects(
          hsm.encryptAsymmetric(key, new Uint8Array(max + 1), algorithm),
          code('ValidationException', `Algorithm ${algorithm} and key spec ${spec} cannot encrypt data larger than ${max} bytes.`),
        )
      }
    }
  })

  it('re-encrypts between symmetric and RSA keys in both directions without the plaintext leaving', async () => {
    const hsm = await readyHsm()
    const aes = await newKey(hsm, 'SYMMETRIC_DEFAULT')
    const rsa = await newKey(hsm, 'RSA_2048', KEY_B)
    const blob = await hsm.encrypt(aes, bytes('move me'), { a: 'b' })
    const toRsa = await hsm.reEncryptAsymmetric(aes, blob, { a: 'b' }, 'SYMMETRIC_DEFAULT', rsa, {}, 'RSAES_OAEP_SHA_256')
    assert.deepEqual(await hsm.decryptAsymmetric(rsa, toRsa, 'RSAES_OAEP_SHA_256'), bytes('move me'))
    const back = await hsm.reEncryptAsymmetric(rsa, toRsa, {}, 'RSAES_OAEP_SHA_256', aes, { c: 'd' }, 'SYMMETRIC_DEFAULT')
    assert.deepEqual(await hsm.decrypt(aes, back, { c: 'd' }), bytes('move me'))
    await assert.rejects(hsm.reEncryptAsymmetric(aes, blob, {}, 'SYMMETRIC_DEFAULT', rsa, {}, 'RSAES_OAEP_SHA_1'), code('InvalidCiphertextException'))
    await assert.rejects(hsm.reEncryptAsymmetric(aes, blob, { a: 'b' }, 'RSAES_OAEP_SHA_1', rsa, {}, 'RSAES_OAEP_SHA_1'), code('InvalidKeyUsageException'))
  })

  it('ECDH: the shared secret equals the one node:crypto computes offline; another curve is refused', async () => {
    const hsm = await readyHsm()
    for (const [spec, curve] of [['ECC_NIST_P256', 'prime256v1'], ['ECC_NIST_P384', 'secp384r1'], ['ECC_NIST_P521', 'secp521r1']] as const) {
      const key = await newKey(hsm, spec)
      const peer = generateKeyPairSync('ec', { namedCurve: curve })
      const peerSpki = new Uint8Array(peer.publicKey.export({ format: 'der', type: 'spki' }))
      const secret = await hsm.deriveSharedSecret(key, peerSpki)
      const offline = diffieHellman({ privateKey: peer.privateKey, publicKey: publicKeyOf(await hsm.getPublicKey(key)) })
      assert.deepEqual(Buffer.from(secret), offline)
    }
    const p256 = await newKey(hsm, 'ECC_NIST_P256')
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' })
    await assert.rejects(hsm.deriveSharedSecret(p256, new Uint8Array(p384)), code('ValidationException'))
    await assert.rejects(hsm.deriveSharedSecret(p256, bytes('not a key')), code('ValidationException'))
    await assert.rejects(hsm.deriveSharedSecret(await newKey(hsm, 'ECC_SECG_P256K1'), new Uint8Array(p384)), code('InvalidKeyUsageException'))
  })

  it('makes data key pairs: the private key is PKCS#8 for the public key, encrypted under the symmetric key and context', async () => {
    const hsm = await readyHsm()
    const wrapping = await newKey(hsm, 'SYMMETRIC_DEFAULT')
    for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519']) {
      const pair = await hsm.generateDataKeyPair(wrapping, spec, { purpose: 'test' }, true)
      const decrypted = await hsm.decrypt(wrapping, pair.privateKeyCiphertextBlob, { purpose: 'test' })
      assert.deepEqual(decrypted, pair.privateKeyPlaintext)
      const pub = publicKeyOf(pair.publicKey)
      const derived = createPublicKey(createPrivateKey({ key: Buffer.from(decrypted), format: 'der', type: 'pkcs8' }))
      assert.deepEqual(derived.export({ format: 'der', type: 'spki' }), pub.export({ format: 'der', type: 'spki' }))
      const without = await hsm.generateDataKeyPair(wrapping, spec, {}, false)
      assert.equal(without.privateKeyPlaintext, undefined)
    }
    const rsaPair = await hsm.generateDataKeyPair(wrapping, 'RSA_2048', {}, true)
    const c = publicEncrypt({ key: publicKeyOf(rsaPair.publicKey), oaepHash: 'sha256' }, bytes('x'))
    assert.deepEqual(privateDecrypt({ key: createPrivateKey({ key: Buffer.from(rsaPair.privateKeyPlaintext!), format: 'der', type: 'pkcs8' }), oaepHash: 'sha256' }, c), Buffer.from('x'))
    await assert.rejects(hsm.generateDataKeyPair(wrapping, 'SM2', {}, true), code('UnsupportedOperationException'))
  })

  it('an asymmetric EKT cannot be moved to another key or spec', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, 'ECC_NIST_P256')
    await hsm.getPublicKey(key) // cached under its own binding
    const other = { ...key, keyId: KEY_B, keyArn: key.keyArn.replace(KEY_A, KEY_B) }
    await assert.rejects(hsm.getPublicKey(other), code('KMSInternalException'))
    await assert.rejects(hsm.getPublicKey({ ...key, keySpec: 'ECC_NIST_P384' }), code('KMSInternalException'))
    await assert.rejects(hsm.getPublicKey({ ...key, keySpec: 'HMAC_256' }), code('InvalidKeyUsageException'))
  })

  it('a key pair generated while the domain is reloaded is wrapped under the live domain key', async () => {
    const hsm = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(0x5e) })
    const sealed = await hsm.initDomain()
    const b = { keyArn: `arn:aws:kms:us-east-1:111122223333:key/${KEY_A}`, keyId: KEY_A, keySpec: 'RSA_3072', origin: 'AWS_KMS' }
    const pending = hsm.generateKeyMaterial(b)
    await hsm.loadDomain(sealed) // zeroises the old in-memory copy while OpenSSL is still generating
    const key = { ...b, ...(await pending) }
    assert.equal(publicKeyOf(await hsm.getPublicKey(key)).asymmetricKeyDetails?.modulusLength, 3072)
  })
})
