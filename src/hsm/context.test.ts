import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { EncryptionContext } from '../core/types.js'
import { isKmsError } from '../core/errors.js'
import { decodeEncryptionContext, encodeEncryptionContext } from './context.js'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const validation = (e: unknown): boolean => isKmsError(e, 'ValidationException')

describe('encodeEncryptionContext', () => {
  it('encodes the empty context as the two bytes 00 00', () => {
    assert.equal(toHex(encodeEncryptionContext({})), '0000')
  })

  it('encodes count, then each pair as uint16 length and bytes, big-endian', () => {
    assert.equal(
      toHex(encodeEncryptionContext({ purpose: 'test', a: '' })),
      '0002' + '0001' + '61' + '0000' + '0007' + Buffer.from('purpose').toString('hex') + '0004' + Buffer.from('test').toString('hex'),
    )
  })

  it('does not depend on the order of the pairs', () => {
    const a = encodeEncryptionContext({ x: '1', b: '2', a: '3', aa: '4' })
    const b = encodeEncryptionContext({ aa: '4', a: '3', x: '1', b: '2' })
    assert.equal(toHex(a), toHex(b))
    assert.deepEqual(decodeEncryptionContext(a), { a: '3', aa: '4', b: '2', x: '1' })
  })

  it('tells apart contexts whose concatenations are equal', () => {
    const pairs: Array<[EncryptionContext, EncryptionContext]> = [
      [{ a: 'bc' }, { ab: 'c' }],
      [{ a: 'b', c: 'd' }, { a: 'bcd' }],
      [{ '': 'ab' }, { a: 'b' }],
      [{}, { '': '' }],
      [{ a: '' }, { '': 'a' }],
    ]
    for (const [x, y] of pairs) {
      assert.notEqual(toHex(encodeEncryptionContext(x)), toHex(encodeEncryptionContext(y)), JSON.stringify([x, y]))
    }
  })

  it('is case-sensitive in keys and values', () => {
    assert.notEqual(toHex(encodeEncryptionContext({ Key: 'v' })), toHex(encodeEncryptionContext({ key: 'v' })))
    assert.notEqual(toHex(encodeEncryptionContext({ k: 'V' })), toHex(encodeEncryptionContext({ k: 'v' })))
  })

  it('sorts by UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FF21 is EF BC A1 in UTF-8 and sorts before U+1F600 (F0 9F 98 80), though in UTF-16 the
    // surrogate pair D83D DE00 sorts first.
    const encoded = encodeEncryptionContext({ '\u{1F600}': 'smile', '\uFF21': 'fullwidth A' })
    const firstKey = encoded.subarray(4, 4 + 3)
    assert.equal(toHex(firstKey), 'efbca1')
    assert.deepEqual(decodeEncryptionContext(encoded), { '\uFF21': 'fullwidth A', '\u{1F600}': 'smile' })
  })

  it('round-trips Unicode keys and values', () => {
    const context = { 'clé': 'välue', '日本': '語', 'emoji\u{1F510}': '\u{1F511}', __proto__x: 'y' }
    assert.deepEqual(decodeEncryptionContext(encodeEncryptionContext(context)), context)
  })

  it('treats a key named __proto__ as an ordinary key', () => {
    const context = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>
    const encoded = encodeEncryptionContext(context)
    assert.notEqual(toHex(encoded), toHex(encodeEncryptionContext({ a: 'b' })))
    assert.equal(decodeEncryptionContext(encoded)?.['__proto__'], 'x')
  })

  it('Precondition: An encryption context is a plain object.', () => {
    for (const bad of [null, 'a=b', 5, ['a', 'b']]) {
      assert.throws(() => encodeEncryptionContext(bad as unknown as EncryptionContext), validation)
    }
  })

  it('Precondition: Every encryption context key and value is a string.', () => {
    assert.throws(() => encodeEncryptionContext({ a: 1 } as unknown as EncryptionContext), validation)
    assert.throws(() => encodeEncryptionContext({ a: undefined } as unknown as EncryptionContext), validation)
  })

  it('Precondition: Every encryption context key and value is well-formed Unicode.', () => {
    // Without this check both would encode U+FFFD and collide.
    assert.throws(() => encodeEncryptionContext({ '\uD800': 'x' }), validation)
    assert.throws(() => encodeEncryptionContext({ k: 'a\uDC00b' }), validation)
    assert.throws(() => encodeEncryptionContext({ k: 'end\uD83D' }), validation)
    assert.doesNotThrow(() => encodeEncryptionContext({ '\uFFFD': '\uD83D\uDE00' }))
  })

  it('Precondition: Every encryption context key and value is at most 65535 bytes of UTF-8.', () => {
    assert.equal(encodeEncryptionContext({ k: 'a'.repeat(65535) }).length, 2 + 2 + 1 + 2 + 65535)
    assert.throws(() => encodeEncryptionContext({ k: 'a'.repeat(65536) }), validation)
    // 21846 three-byte characters are 65538 bytes though only 21846 UTF-16 units.
    assert.throws(() => encodeEncryptionContext({ ['\u20AC'.repeat(21846)]: 'v' }), validation)
    assert.throws(
      () => encodeEncryptionContext({ k: 'a'.repeat(65536) }),
      (e: unknown) => validation(e) && /65536 bytes/.test((e as Error).message),
    )
  })

  it('Precondition: An encryption context has at most 65535 pairs.', () => {
    const context: Record<string, string> = {}
    for (let i = 0; i < 65535; i++) context[`k${i}`] = ''
    assert.doesNotThrow(() => encodeEncryptionContext(context))
    context['one-more'] = ''
    assert.throws(() => encodeEncryptionContext(context), validation)
  })
})

  it('encodes ASCII contexts (the fast path) exactly as the UTF-8 layout says', () => {
    const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('hex')
    const field = (s: string): string => Buffer.from(s, 'utf8').length.toString(16).padStart(4, '0') + utf8(s)
    for (const context of [
      { b: '2', B: '1', a: '', '~': '\x7f', '0': 'x y' },
      { tenant: 't-1', purpose: 'bench', aws: 'arn:aws:s3:::b' },
      { Z: 'é', A: 'a' }, // one non-ASCII value: the general path, same layout
    ]) {
      const keys = Object.keys(context).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      const expected = keys.length.toString(16).padStart(4, '0') + keys.map((k) => field(k) + field(context[k as keyof typeof context]!)).join('')
      assert.equal(toHex(encodeEncryptionContext(context)), expected)
      assert.deepEqual(decodeEncryptionContext(encodeEncryptionContext(context)), context)
    }
  })

describe('decodeEncryptionContext', () => {
  it('accepts only canonical encodings', () => {
    const good = encodeEncryptionContext({ a: '1', b: '2' })
    assert.deepEqual(decodeEncryptionContext(good), { a: '1', b: '2' })
    const unsorted = Buffer.from('0002' + '000162' + '000132' + '000161' + '000131', 'hex')
    const duplicate = Buffer.from('0002' + '000161' + '000131' + '000161' + '000132', 'hex')
    const badUtf8 = Buffer.from('0001' + '0001ff' + '0000', 'hex')
    const overlong = Buffer.from('0001' + '0002c0af' + '0000', 'hex')
    for (const bad of [unsorted, duplicate, badUtf8, overlong, Buffer.from([]), Buffer.from([0])]) {
      assert.equal(decodeEncryptionContext(bad), undefined, bad.toString('hex'))
    }
    for (let n = 0; n < good.length; n++) assert.equal(decodeEncryptionContext(good.subarray(0, n)), undefined)
    assert.equal(decodeEncryptionContext(Buffer.concat([good, Buffer.from([0])])), undefined)
  })
})
