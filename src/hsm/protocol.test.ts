import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KmsError } from '../core/errors.js'
import type { KeyMaterialRef } from './hsm.js'
import {
  decodeRequest,
  decodeResponse,
  encodeError,
  encodeRequest,
  encodeResult,
  OPCODES,
  ProtocolError,
  readMessageId,
  Writer,
  type HsmArgs,
  type HsmMethod,
  type HsmResult,
} from './protocol.js'

const key: KeyMaterialRef = {
  keyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
  keySpec: 'SYMMETRIC_DEFAULT',
  origin: 'AWS_KMS',
  hbkId: new Uint8Array(32).fill(9),
  ekt: new Uint8Array([1, 2, 3, 4, 5]),
}
const other: KeyMaterialRef = { ...key, keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123', keyId: 'mrk-0123' }
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

function roundTripRequest<M extends HsmMethod>(method: M, args: HsmArgs<M>): void {
  const decoded = decodeRequest(encodeRequest(0xfffffffe, method, args))
  assert.equal(decoded.id, 0xfffffffe)
  assert.equal(decoded.method, method)
  assert.deepEqual(decoded.args, args)
}

function roundTripResult<M extends HsmMethod>(method: M, result: HsmResult<M>): void {
  const message = encodeResult(7, method, result)
  assert.equal(readMessageId(message), 7)
  assert.deepEqual(decodeResponse(message, method), result)
}

describe('protocol', () => {
  it('round-trips the arguments of every method', () => {
    roundTripRequest('initDomain', [])
    roundTripRequest('loadDomain', [bytes(1, 2, 3)])
    roundTripRequest('generateKeyMaterial', [{ keyArn: key.keyArn, keyId: key.keyId, keySpec: 'HMAC_256', origin: 'EXTERNAL' }])
    roundTripRequest('encrypt', [key, bytes(0, 255), { purpose: 'test', 'ünïcødé ☃': '値' }])
    roundTripRequest('decrypt', [key, bytes(), {}])
    roundTripRequest('generateDataKey', [key, 32, { a: '' }, true])
    roundTripRequest('generateDataKey', [key, 1.5, {}, false])
    roundTripRequest('reEncrypt', [key, bytes(8), { from: 'x' }, other, { to: 'y' }])
    roundTripRequest('generateRandom', [-1])
    roundTripRequest('wrapSecret', ['AKIAEXAMPLE', bytes(1, 2)])
    roundTripRequest('deriveSigningKey', ['AKIAEXAMPLE', bytes(3), '20260101', 'us-east-1', 'kms'])
    roundTripRequest('generateWrappingKey', [{ keyArn: key.keyArn, keyId: key.keyId, keySpec: 'SYMMETRIC_DEFAULT', origin: 'EXTERNAL' }, 'RSA_3072'])
    roundTripRequest('importKeyMaterial', [
      { keyArn: key.keyArn, keyId: key.keyId, keySpec: 'SYMMETRIC_DEFAULT', origin: 'EXTERNAL' },
      { wrappingKeySpec: 'RSA_2048', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', wrappedPrivateKey: bytes(9, 8) },
      bytes(1, 2, 3),
    ])
    roundTripRequest('getPublicKey', [key])
    roundTripRequest('sign', [key, bytes(1, 2), 'DIGEST', 'ECDSA_SHA_256'])
    roundTripRequest('verify', [key, bytes(1), 'RAW', 'RSASSA_PSS_SHA_256', bytes(9, 9)])
    roundTripRequest('encryptAsymmetric', [key, bytes(4), 'RSAES_OAEP_SHA_1'])
    roundTripRequest('decryptAsymmetric', [key, bytes(5), 'RSAES_OAEP_SHA_256'])
    roundTripRequest('reEncryptAsymmetric', [key, bytes(6), { from: 'x' }, 'SYMMETRIC_DEFAULT', other, {}, 'RSAES_OAEP_SHA_256'])
    roundTripRequest('generateMac', [key, bytes(7), 'HMAC_SHA_256'])
    roundTripRequest('verifyMac', [key, bytes(7), 'HMAC_SHA_512', bytes(8)])
    roundTripRequest('deriveSharedSecret', [key, bytes(0x30, 1)])
    roundTripRequest('generateDataKeyPair', [key, 'ECC_NIST_P256', { a: 'b' }, false])
    roundTripRequest('createAuditSigningKey', [])
    roundTripRequest('signAuditDigest', [bytes(1, 2), bytes(3, 4, 5)])
    assert.equal(Object.keys(OPCODES).length, 24)
  })

  it('round-trips the results of every method', () => {
    roundTripResult('initDomain', bytes(1))
    roundTripResult('loadDomain', undefined)
    roundTripResult('generateKeyMaterial', { hbkId: bytes(1, 2), ekt: bytes(3) })
    roundTripResult('encrypt', bytes(4, 5))
    roundTripResult('decrypt', bytes())
    roundTripResult('generateDataKey', { ciphertextBlob: bytes(1), plaintext: bytes(2) })
    roundTripResult('generateDataKey', { ciphertextBlob: bytes(1) })
    roundTripResult('reEncrypt', bytes(6))
    roundTripResult('generateRandom', new Uint8Array(1024).fill(3))
    roundTripResult('wrapSecret', bytes(7))
    roundTripResult('deriveSigningKey', new Uint8Array(32))
    roundTripResult('generateWrappingKey', { publicKey: bytes(1, 2), wrappedPrivateKey: bytes(3) })
    roundTripResult('importKeyMaterial', { hbkId: bytes(4), ekt: bytes(5, 6) })
    roundTripResult('verify', true)
    roundTripResult('verifyMac', false)
    roundTripResult('generateDataKeyPair', { publicKey: bytes(1), privateKeyCiphertextBlob: bytes(2), privateKeyPlaintext: bytes(3) })
    roundTripResult('generateDataKeyPair', { publicKey: bytes(1), privateKeyCiphertextBlob: bytes(2) })
    roundTripResult('createAuditSigningKey', { wrappedKey: bytes(1), publicKey: bytes(2, 3) })
    roundTripResult('signAuditDigest', { signature: bytes(4), publicKey: bytes(5) })
  })

  it('keeps "__proto__" and other awkward context keys as plain own properties', () => {
    const context = JSON.parse('{"__proto__":"p","constructor":"c","":"empty"}') as Record<string, string>
    const decoded = decodeRequest(encodeRequest(1, 'encrypt', [key, bytes(), context]))
    const got = decoded.args[2] as Record<string, string>
    assert.deepEqual(Object.keys(got), ['__proto__', 'constructor', ''])
    assert.equal(Object.getPrototypeOf(got), Object.prototype)
    assert.equal(got['__proto__'], 'p')
  })

  it('drops properties of a key reference that are not part of the wire shape', () => {
    const extended = { ...key, secretNote: 'never sent' } as KeyMaterialRef
    const decoded = decodeRequest(encodeRequest(1, 'decrypt', [extended, bytes(), {}]))
    assert.deepEqual(decoded.args[0], key)
  })

  it('decoded byte strings are copies, independent of the message buffer', () => {
    const message = encodeRequest(1, 'encrypt', [key, bytes(42), {}])
    const decoded = decodeRequest(message)
    message.fill(0)
    assert.deepEqual(decoded.args[1], bytes(42))
  })

  it('carries a KmsError with its code and message', () => {
    const message = encodeError(5, new KmsError('NotFoundException', 'Key arn:... not found'))
    assert.equal(readMessageId(message), 5)
    assert.throws(
      () => decodeResponse(message, 'encrypt'),
      (e: unknown) => e instanceof KmsError && e.code === 'NotFoundException' && e.message === 'Key arn:... not found',
    )
  })

  it('turns anything that is not a KmsError into KMSInternalException with no message', () => {
    const message = encodeError(5, new TypeError('secret internal detail'))
    assert.throws(
      () => decodeResponse(message, 'encrypt'),
      (e: unknown) => e instanceof KmsError && e.code === 'KMSInternalException' && e.message === '',
    )
  })

  it('rejects malformed messages', () => {
    const good = encodeRequest(1, 'generateRandom', [32])
    assert.throws(() => decodeRequest(good.subarray(0, 3)), ProtocolError)
    assert.throws(() => decodeRequest(good.subarray(0, good.length - 1)), ProtocolError)
    assert.throws(() => decodeRequest(Uint8Array.from([...good, 0])), ProtocolError)
    assert.throws(() => decodeRequest(new Writer().rawUint32(1).rawUint8(200).finish()), /unknown opcode/)
    assert.throws(() => decodeRequest(new Writer().rawUint32(1).rawUint8(OPCODES.generateRandom).bytes(bytes(1, 2)).finish()), /bad number/)
    const badBool = new Writer().rawUint32(1).rawUint8(OPCODES.generateDataKey).keyRef(key).number(1).context({}).bytes(bytes(2)).finish()
    assert.throws(() => decodeRequest(badBool), /bad boolean/)
    const dup = new Writer().rawUint32(1).rawUint8(OPCODES.encrypt).keyRef(key).bytes(bytes())
      .bytes(bytes(0, 0, 0, 2)).string('k').string('a').string('k').string('b').finish()
    assert.throws(() => decodeRequest(dup), /duplicate context key/)
    const huge = new Writer().rawUint32(1).rawUint8(OPCODES.loadDomain).rawUint32(0xffffffff).finish()
    assert.throws(() => decodeRequest(huge), /truncated field/)
    assert.throws(() => decodeResponse(new Writer().rawUint32(1).rawUint8(9).finish(), 'encrypt'), /unknown response status/)
    assert.throws(() => decodeResponse(new Writer().rawUint32(1).rawUint8(1).string('Bad Code!').string('').finish(), 'encrypt'), /bad error code/)
    assert.equal(readMessageId(bytes(1, 2)), undefined)
  })

  it('grows its buffer for large messages', () => {
    const big = new Uint8Array(100_000).fill(1)
    const decoded = decodeRequest(encodeRequest(1, 'loadDomain', [big]))
    assert.deepEqual(decoded.args[0], big)
  })
})
