import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import { aesGcmEncrypt } from './aes-gcm.js'
import { hmacSha256, kdfCtrHmacSha256, kdfCtrHmacSha256Raw } from './kdf.js'
import { signEcdsaDigest } from './prehashed.js'
import type { SelfTestPrimitives } from './self-test.js'
import { runSelfTests } from './self-test.js'

const failsWith = (name: string) => (e: unknown): boolean =>
  isKmsError(e, 'KMSInternalException') && e.message === `HSM self-test failed: ${name}`

describe('known-answer self-tests', () => {
  it('pass on the primitives the HSM uses', () => {
    assert.doesNotThrow(() => runSelfTests())
  })

  const broken: Array<[string, Partial<SelfTestPrimitives>]> = [
    ['AES-256-GCM encrypt', {
      aesGcmEncrypt: (k, iv, p, a) => {
        const out = aesGcmEncrypt(k, iv, p, a)
        out.ciphertext[0] = (out.ciphertext[0] as number) ^ 1
        return out
      },
    }],
    ['AES-256-GCM decrypt', { aesGcmDecrypt: () => undefined }],
    // GCM is CTR underneath, so encrypting the ciphertext yields the plaintext without any tag check.
    ['AES-256-GCM rejects a bad tag', { aesGcmDecrypt: (k, iv, c) => aesGcmEncrypt(k, iv, c, new Uint8Array(0)).ciphertext }],
    ['HMAC-SHA256', { hmacSha256: (k, d) => hmacSha256(k, new Uint8Array([...d, 0])) }],
    ['SP 800-108 KDF (fixed input)', { kdfCtrHmacSha256Raw: (k, f, n) => kdfCtrHmacSha256Raw(k, f.subarray(1), n) }],
    ['SP 800-108 KDF (label and context)', { kdfCtrHmacSha256: (k, l, c, n) => kdfCtrHmacSha256(k, c, l, n) }],
    ['HMAC-SHA256', { hmacSha256: () => { throw new Error('primitive crashed') } }],
    ['ECDSA P-256 prehashed sign', { signEcdsaDigest: (k, d, random) => signEcdsaDigest(k, d.map((b) => b ^ 1), random) }],
    ['ECDSA P-256 prehashed verify', { verifyEcdsaDigest: () => true }],
  ]
  for (const [name, primitives] of broken) {
    it(`catch a broken primitive: ${name}`, () => {
      assert.throws(() => runSelfTests(primitives), failsWith(name))
    })
  }
})
