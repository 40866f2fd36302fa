import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isKmsError } from './errors.js'
import { parseInput, t } from './shape.js'

const shape = t.structure({
  KeyId: t.required(t.string({ min: 1, max: 8 })),
  Plaintext: t.optional(t.blob({ min: 1, max: 4 })),
  Limit: t.optional(t.integer({ min: 1, max: 10 })),
  Spec: t.optional(t.enum(['A', 'B'])),
  Name: t.optional(t.string({ pattern: /^[a-z]+$/ })),
  Ctx: t.optional(t.map()),
  Tags: t.optional(t.list(t.structure({ TagKey: t.required(t.string({ max: 3 })) }), { max: 2 })),
  Flag: t.optional(t.boolean()),
})

function fails(body: unknown, code: string, message?: string): void {
  assert.throws(() => parseInput(shape, body), (e: unknown) => {
    assert.ok(isKmsError(e), String(e))
    assert.equal(e.code, code)
    if (message !== undefined) assert.equal(e.message, message)
    return true
  })
}

describe('parseInput', () => {
  it('parses members and decodes blobs to bytes', () => {
    const v = parseInput(shape, { KeyId: 'k', Plaintext: 'AQID', Limit: 3, Spec: 'B', Ctx: { a: 'b' }, Tags: [{ TagKey: 'x' }], Flag: false, Unknown: 1 })
    assert.equal(v.KeyId, 'k')
    assert.deepEqual([...v.Plaintext!], [1, 2, 3])
    assert.equal(v.Limit, 3)
    assert.deepEqual({ ...v.Ctx }, { a: 'b' })
    assert.equal(v.Flag, false)
    assert.equal('Unknown' in v, false)
  })

  it('treats JSON null as an absent member', () => {
    const v = parseInput(shape, { KeyId: 'k', Limit: null })
    assert.equal(v.Limit, undefined)
  })

  it('reports every violation with AWS wording, lowerCamel member names and no echo of blobs', () => {
    fails(
      { Plaintext: 'AQIDBAU=', Limit: 11, Spec: 'C' },
      'ValidationException',
      "4 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
        "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4; " +
        "Value '11' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10; " +
        "Value 'C' at 'spec' failed to satisfy constraint: Member must satisfy enum value set: [A, B]",
    )
    fails({ KeyId: '' }, 'ValidationException', "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1")
    fails({ KeyId: 'k', Name: 'A1' }, 'ValidationException', "1 validation error detected: Value 'A1' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z]+$")
    fails({ KeyId: 'k', Tags: [{ TagKey: 'long' }] }, 'ValidationException', "1 validation error detected: Value 'long' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 3")
  })

  it('answers SerializationException for values of the wrong JSON type', () => {
    fails({ KeyId: 5 }, 'SerializationException', 'VALUE_NUMBER_INT can not be converted to a String')
    fails({ KeyId: 'k', Limit: '5' }, 'SerializationException', 'STRING_VALUE can not be converted to an Integer')
    fails({ KeyId: 'k', Limit: 1.5 }, 'SerializationException')
    fails({ KeyId: 'k', Flag: 'true' }, 'SerializationException')
    fails({ KeyId: 'k', Ctx: { a: 1 } }, 'SerializationException')
    fails({ KeyId: 'k', Ctx: [] }, 'SerializationException')
    fails({ KeyId: 'k', Tags: {} }, 'SerializationException')
    fails({ KeyId: 'k', Plaintext: 'not base64!' }, 'SerializationException')
    fails([], 'SerializationException')
    fails(null, 'SerializationException')
  })

  it('does not let __proto__ in a map reach the prototype', () => {
    const v = parseInput(shape, JSON.parse('{"KeyId":"k","Ctx":{"__proto__":"x"}}'))
    assert.equal(v.Ctx!['__proto__'], 'x')
    assert.equal(Object.getPrototypeOf(v.Ctx), null)
  })
})
