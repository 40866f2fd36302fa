import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createHmac } from 'node:crypto'
import { isKmsError } from '../core/errors.js'
import { KDF_MAX_OUTPUT_BYTES, hmacSha256, kdfCtrHmacSha256, kdfCtrHmacSha256Raw } from './kdf.js'

interface RawVector {
  name: string
  ki: string
  fixedInputData: string
  lBits: number
  ko: string
}
interface LabelContextVector {
  name: string
  ki: string
  labelUtf8: string
  context: string
  lBits: number
  ko: string
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../test/vectors/kbkdf-ctr-hmac-sha256.json', import.meta.url), 'utf8'),
) as { cavp: RawVector[]; labelContext: LabelContextVector[] }

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')

describe('SP 800-108 counter-mode KDF, HMAC-SHA256', () => {
  for (const v of vectors.cavp) {
    it(`matches ${v.name} (fixed input as given)`, () => {
      assert.equal(toHex(kdfCtrHmacSha256Raw(hex(v.ki), hex(v.fixedInputData), v.lBits / 8)), v.ko)
    })
  }

  for (const v of vectors.labelContext) {
    it(`matches ${v.name} (label || 0x00 || context || [L]_32)`, () => {
      const label = new TextEncoder().encode(v.labelUtf8)
      assert.equal(toHex(kdfCtrHmacSha256(hex(v.ki), label, hex(v.context), v.lBits / 8)), v.ko)
    })
  }

  it('lays out the fixed input as label || 0x00 || context || [L]_32 over two blocks', () => {
    const key = new Uint8Array(32).fill(0x2b)
    const label = new TextEncoder().encode('trent-kms-blob-v1')
    const context = new Uint8Array(16).fill(0x07)
    const length = 48
    const fixed = Buffer.concat([label, Buffer.from([0]), context, Buffer.from([0, 0, 0x01, 0x80])])
    const block = (i: number): Buffer =>
      createHmac('sha256', key).update(Buffer.from([0, 0, 0, i])).update(fixed).digest()
    const expected = Buffer.concat([block(1), block(2)]).subarray(0, length)
    assert.equal(toHex(kdfCtrHmacSha256(key, label, context, length)), expected.toString('hex'))
  })

  it('binds the output length: a shorter output is not a prefix of a longer one', () => {
    const key = new Uint8Array(32).fill(1)
    const l = new Uint8Array([1])
    const c = new Uint8Array([2])
    const short = kdfCtrHmacSha256(key, l, c, 32)
    const long = kdfCtrHmacSha256(key, l, c, 64)
    assert.notEqual(toHex(long.subarray(0, 32)), toHex(short))
  })

  it('separates label and context by the 0x00 byte and the length field', () => {
    const key = new Uint8Array(32).fill(3)
    const a = kdfCtrHmacSha256(key, new Uint8Array([1, 2]), new Uint8Array([3]), 32)
    const b = kdfCtrHmacSha256(key, new Uint8Array([1]), new Uint8Array([2, 3]), 32)
    assert.notEqual(toHex(a), toHex(b))
  })

  it('returns a fresh Uint8Array that owns its whole buffer', () => {
    const out = kdfCtrHmacSha256Raw(new Uint8Array(32).fill(9), new Uint8Array(4), 32)
    assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype)
    assert.equal(out.byteOffset, 0)
    assert.equal(out.buffer.byteLength, 32)
  })

  it('Precondition: The KDF key is not empty.', () => {
    assert.throws(() => kdfCtrHmacSha256Raw(new Uint8Array(0), new Uint8Array(4), 32), internal)
  })

  it('Precondition: The KDF output length is a positive whole number of bytes whose bit length fits in 32 bits.', () => {
    const key = new Uint8Array(32)
    for (const n of [0, -1, 1.5, Number.NaN, KDF_MAX_OUTPUT_BYTES + 1]) {
      assert.throws(() => kdfCtrHmacSha256Raw(key, new Uint8Array(4), n), internal, `raw ${n}`)
      assert.throws(() => kdfCtrHmacSha256(key, new Uint8Array(1), new Uint8Array(1), n), internal, `wrapper ${n}`)
    }
    assert.equal(kdfCtrHmacSha256Raw(key, new Uint8Array(4), 1).length, 1)
  })
})

describe('hmacSha256', () => {
  it('matches RFC 4231 test cases 1 and 2', () => {
    const case1 = hmacSha256(new Uint8Array(20).fill(0x0b), new TextEncoder().encode('Hi There'))
    assert.equal(toHex(case1), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7')
    const case2 = hmacSha256(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?'))
    assert.equal(toHex(case2), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
    assert.equal(Object.getPrototypeOf(case2), Uint8Array.prototype)
  })
})
