import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import { aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test case 16 (AES-256, 60-byte plaintext, AAD).
const K = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308')
const IV = hex('cafebabefacedbaddecaf888')
const P = hex(
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
)
const A = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2')
const C =
  '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662'
const T = '76fc6ece0f4e1768cddf8853bb2d551b'

describe('AES-256-GCM', () => {
  it('matches GCM test case 16 both ways', () => {
    const out = aesGcmEncrypt(K, IV, P, A)
    assert.equal(toHex(out.ciphertext), C)
    assert.equal(toHex(out.tag), T)
    const back = aesGcmDecrypt(K, IV, hex(C), hex(T), A)
    assert.ok(back)
    assert.equal(toHex(back), toHex(P))
  })

  it('returns undefined for a wrong tag, AAD, ciphertext or short tag', () => {
    const tag = hex(T)
    tag[15] = (tag[15] as number) ^ 0x80
    assert.equal(aesGcmDecrypt(K, IV, hex(C), tag, A), undefined)
    assert.equal(aesGcmDecrypt(K, IV, hex(C), hex(T), new Uint8Array(0)), undefined)
    const ct = hex(C)
    ct[0] = (ct[0] as number) ^ 1
    assert.equal(aesGcmDecrypt(K, IV, ct, hex(T), A), undefined)
    assert.equal(aesGcmDecrypt(K, IV, hex(C), hex(T).subarray(0, 12), A), undefined)
  })

  it('Precondition: An AES-256-GCM key is 32 bytes.', () => {
    assert.throws(() => aesGcmEncrypt(new Uint8Array(16), IV, P, A), internal)
    assert.throws(() => aesGcmDecrypt(new Uint8Array(31), IV, hex(C), hex(T), A), internal)
  })

  it('Precondition: An AES-256-GCM IV is 12 bytes.', () => {
    assert.throws(() => aesGcmEncrypt(K, new Uint8Array(16), P, A), internal)
    assert.throws(() => aesGcmDecrypt(K, new Uint8Array(8), hex(C), hex(T), A), internal)
  })
})
