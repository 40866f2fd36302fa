import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { isKmsError } from '../core/errors.js'
import {
  BLOB_V1_HEADER_BYTES,
  BLOB_V1_OVERHEAD_BYTES,
  MAX_BLOB_BYTES,
  assembleBlob,
  decodeBlob,
  encodeBlobHeader,
  parseBlobHeader,
} from './blob.js'

const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const UUID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const MRK = 'mrk-1234abcd12ab34cd56ef1234567890ab'
const fields = (keyId = UUID) => ({
  keyId,
  hbkId: new Uint8Array(32).fill(0xa1),
  nonce: new Uint8Array(16).fill(0xb2),
  iv: new Uint8Array(12).fill(0xc3),
})
const sample = (keyId = UUID, ciphertextLength = 5): Uint8Array =>
  assembleBlob(encodeBlobHeader(fields(keyId)), new Uint8Array(ciphertextLength).fill(0xd4), new Uint8Array(16).fill(0xe5))

describe('blob v1 codec', () => {
  it('lays out version, key id, HBK id, nonce, IV, ciphertext and tag', () => {
    const blob = sample()
    assert.equal(BLOB_V1_HEADER_BYTES, 98)
    assert.equal(BLOB_V1_OVERHEAD_BYTES, 114)
    assert.equal(blob.length, 98 + 5 + 16)
    assert.equal(
      toHex(blob),
      '01' + '24' + Buffer.from(UUID).toString('hex') + 'a1'.repeat(32) + 'b2'.repeat(16) + 'c3'.repeat(12) +
        'd4'.repeat(5) + 'e5'.repeat(16),
    )
  })

  it('decodes what it encodes, for UUID and mrk- key ids and empty ciphertext', () => {
    for (const keyId of [UUID, MRK]) {
      for (const n of [0, 1, 4096]) {
        const d = decodeBlob(sample(keyId, n))
        assert.ok(d)
        assert.equal(d.keyId, keyId)
        assert.equal(toHex(d.hbkId), 'a1'.repeat(32))
        assert.equal(toHex(d.nonce), 'b2'.repeat(16))
        assert.equal(toHex(d.iv), 'c3'.repeat(12))
        assert.equal(d.ciphertext.length, n)
        assert.equal(toHex(d.tag), 'e5'.repeat(16))
        assert.equal(d.header.length, BLOB_V1_HEADER_BYTES)
      }
    }
  })

  it('parseBlobHeader returns the key id and a copy of the HBK id', () => {
    const blob = sample(MRK)
    const h = parseBlobHeader(blob)
    assert.ok(h)
    assert.equal(h.keyId, MRK)
    assert.equal(toHex(h.hbkId), 'a1'.repeat(32))
    h.hbkId.fill(0)
    assert.equal(blob[2 + 36], 0xa1)
  })

  it('parseBlobHeader reads a Buffer or a view at an offset', () => {
    const blob = sample()
    assert.equal(parseBlobHeader(Buffer.from(blob))?.keyId, UUID)
    const padded = new Uint8Array(blob.length + 7)
    padded.set(blob, 7)
    assert.equal(parseBlobHeader(padded.subarray(7))?.keyId, UUID)
  })

  it('parseBlobHeader never throws, whatever it is given', () => {
    const odd: unknown[] = [undefined, null, 0, 'AQICAHg=', [1, 36], {}, new ArrayBuffer(200), new Uint16Array(100), Symbol('x')]
    for (const x of odd) assert.equal(parseBlobHeader(x), undefined)
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(Math.floor(Math.random() * 300))
      if (b.length > 1 && i % 2 === 0) {
        b[0] = 1
        b[1] = Math.floor(Math.random() * 256)
      }
      assert.doesNotThrow(() => parseBlobHeader(b))
    }
  })

  it('Precondition: A blob to decode is a Uint8Array of at most 6144 bytes.', () => {
    assert.equal(parseBlobHeader('not bytes'), undefined)
    const max = sample(UUID, MAX_BLOB_BYTES - BLOB_V1_OVERHEAD_BYTES)
    assert.equal(max.length, MAX_BLOB_BYTES)
    assert.equal(parseBlobHeader(max)?.keyId, UUID)
    const over = new Uint8Array(MAX_BLOB_BYTES + 1)
    over.set(max)
    assert.equal(parseBlobHeader(over), undefined)
  })

  it('Precondition: A blob to decode starts with version 1.', () => {
    for (const version of [0x00, 0x02, 0xff]) {
      const b = sample()
      b[0] = version
      assert.equal(parseBlobHeader(b), undefined)
    }
  })

  it('Precondition: A blob to decode is long enough for its header and tag.', () => {
    const b = sample(UUID, 0)
    assert.ok(parseBlobHeader(b))
    for (let n = 0; n < b.length; n++) assert.equal(parseBlobHeader(b.subarray(0, n)), undefined, `length ${n}`)
  })

  it('Precondition: The key id in a blob to decode is a well-formed key id.', () => {
    const upper = sample()
    upper.set(Buffer.from(UUID.toUpperCase()), 2)
    assert.equal(parseBlobHeader(upper), undefined)
    for (const length of [0, 35, 37, 255]) {
      const b = sample()
      b[1] = length
      assert.equal(parseBlobHeader(b), undefined, `key id length ${length}`)
    }
    const highBit = sample()
    highBit[2] = 0xb1 // would read as '±' if bytes were taken as Latin-1
    assert.equal(parseBlobHeader(highBit), undefined)
  })

  it('Precondition: The key id written into a blob is a well-formed key id.', () => {
    for (const keyId of ['', 'alias/x', UUID.toUpperCase(), `arn:aws:kms:us-east-1:111122223333:key/${UUID}`]) {
      assert.throws(() => encodeBlobHeader(fields(keyId)), internal)
    }
  })

  it('Precondition: The header fields of a blob have their fixed lengths.', () => {
    assert.throws(() => encodeBlobHeader({ ...fields(), hbkId: new Uint8Array(31) }), internal)
    assert.throws(() => encodeBlobHeader({ ...fields(), nonce: new Uint8Array(32) }), internal)
    assert.throws(() => encodeBlobHeader({ ...fields(), iv: new Uint8Array(16) }), internal)
  })

  it('Precondition: An assembled blob is at most 6144 bytes.', () => {
    const header = encodeBlobHeader(fields())
    assert.throws(() => assembleBlob(header, new Uint8Array(MAX_BLOB_BYTES - BLOB_V1_OVERHEAD_BYTES + 1), new Uint8Array(16)), internal)
  })
})
