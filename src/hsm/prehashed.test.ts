import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import { ECDSA_P256_KAT, ecdsaDer } from './self-test.js'
import { signEcdsaDigest, signPkcs1Digest, verifyEcdsaDigest, verifyPkcs1Digest, verifyPssDigest } from './prehashed.js'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')
const b64u = (s: string): string => hex(s).toString('base64url')
const der = (r: string, s: string): Uint8Array => new Uint8Array(hex(ecdsaDer(r, s)))

describe('prehashed signatures (MessageType DIGEST)', () => {
  const v = ECDSA_P256_KAT
  const jwk = { kty: 'EC', crv: 'P-256', x: b64u(v.x), y: b64u(v.y) }
  const digest = createHash('sha256').update('sample').digest()

  it('reproduces the RFC 6979 A.2.5 P-256/SHA-256 signature when given its k, and verifies it', () => {
    const privateKey = createPrivateKey({ key: { ...jwk, d: b64u(v.d) }, format: 'jwk' })
    // The first draw becomes k = draw mod (n−1) + 1: hand it k − 1. The second draw only blinds.
    const draws = [Buffer.concat([Buffer.alloc(16), hex((BigInt(`0x${v.k}`) - 1n).toString(16).padStart(64, '0'))]), Buffer.alloc(48, 0x42)]
    const signature = signEcdsaDigest(privateKey, digest, () => new Uint8Array(draws.shift()!))
    assert.deepEqual(Buffer.from(signature), Buffer.from(der(v.r, v.s)))
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' })
    assert.equal(verifyEcdsaDigest(publicKey, digest, der(v.r, v.s)), true)
    assert.equal(verify('sha256', Buffer.from('sample'), { key: publicKey, dsaEncoding: 'der' }, der(v.r, v.s)), true)
    assert.equal(verifyEcdsaDigest(publicKey, createHash('sha256').update('test').digest(), der(v.r, v.s)), false)
    assert.equal(verifyEcdsaDigest(publicKey, digest, der(v.r, '00')), false)
  })

  it('refuses signatures that are not strict DER', () => {
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' })
    const good = der(v.r, v.s)
    assert.equal(verifyEcdsaDigest(publicKey, digest, new Uint8Array([...good, 0])), false)
    assert.equal(verifyEcdsaDigest(publicKey, digest, good.subarray(0, good.length - 1)), false)
    const padded = Buffer.from(good)
    padded[1] = padded[1]! + 1
    assert.equal(verifyEcdsaDigest(publicKey, digest, new Uint8Array([...padded, 0])), false)
    assert.equal(verifyEcdsaDigest(publicKey, digest, new Uint8Array()), false)
  })

  it('RSASSA-PKCS1-v1_5 of a digest is byte for byte what node:crypto signs over the message', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    for (const hash of ['sha256', 'sha384', 'sha512']) {
      const d = createHash(hash).update('message').digest()
      const mine = signPkcs1Digest(privateKey, hash, d)
      assert.deepEqual(Buffer.from(mine), sign(hash, Buffer.from('message'), privateKey))
      assert.equal(verifyPkcs1Digest(publicKey, hash, d, mine), true)
      assert.equal(verifyPkcs1Digest(publicKey, hash, createHash(hash).update('other').digest(), mine), false)
    }
  })

  it('RSASSA-PSS of a digest accepts what node:crypto signs (salt = hash length) and nothing else', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 })
    const d = createHash('sha512').update('message').digest()
    const theirs = sign('sha512', Buffer.from('message'), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 })
    assert.equal(verifyPssDigest(publicKey, 'sha512', d, theirs), true)
    const shortSalt = sign('sha512', Buffer.from('message'), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 })
    assert.equal(verifyPssDigest(publicKey, 'sha512', d, shortSalt), false)
    assert.equal(verifyPssDigest(publicKey, 'sha512', d, theirs.subarray(1)), false)
  })
})
