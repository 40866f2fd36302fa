import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import type { EktBinding } from './ekt.js'
import {
  EKT_V1_BYTES,
  credentialAad,
  ektAad,
  lengthPrefixed,
  unwrapCredential,
  unwrapEkt,
  wrapCredential,
  wrapEkt,
  wrappedDomainKeyId,
} from './ekt.js'

const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const dk = { id: new Uint8Array(16).fill(0x11), key: new Uint8Array(32).fill(0x22) }
const otherDk = { id: new Uint8Array(16).fill(0x33), key: new Uint8Array(32).fill(0x44) }
const lookup = (id: Uint8Array) =>
  [dk, otherDk].find((k) => Buffer.from(k.id).equals(id))?.key
const hbk = new Uint8Array(32).fill(0x55)
const iv = new Uint8Array(12).fill(0x66)
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const binding: EktBinding = {
  keyArn: `arn:aws:kms:us-east-1:111122223333:key/${KEY_ID}`,
  keyId: KEY_ID,
  keySpec: 'SYMMETRIC_DEFAULT',
  origin: 'AWS_KMS',
  hbkId: new Uint8Array(32).fill(0x77),
}

describe('EKT v1', () => {
  it('is version, domain key id, IV, wrapped HBK and tag: 77 bytes', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    assert.equal(ekt.length, EKT_V1_BYTES)
    assert.equal(ekt[0], 0x01)
    assert.equal(toHex(ekt.subarray(1, 17)), toHex(dk.id))
    assert.equal(toHex(ekt.subarray(17, 29)), toHex(iv))
    assert.equal(toHex(wrappedDomainKeyId(ekt) ?? new Uint8Array()), toHex(dk.id))
  })

  it('unwraps for the binding it was made for', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    const out = unwrapEkt(ekt, lookup, binding)
    assert.ok(out)
    assert.equal(toHex(out), toHex(hbk))
  })

  it('cannot be moved to another key ARN, key, HBK id, key spec or origin', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    const other = '0000abcd-12ab-34cd-56ef-1234567890ab'
    const moved: EktBinding[] = [
      { ...binding, keyArn: `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}` },
      { ...binding, keyArn: `arn:aws:kms:us-east-1:444455556666:key/${KEY_ID}` },
      { ...binding, keyArn: `arn:aws:kms:us-east-1:111122223333:key/${other}`, keyId: other },
      { ...binding, hbkId: new Uint8Array(32).fill(0x78) },
      { ...binding, keySpec: 'HMAC_256' },
      { ...binding, origin: 'EXTERNAL' },
    ]
    for (const b of moved) assert.equal(unwrapEkt(ekt, lookup, b), undefined, JSON.stringify({ ...b, hbkId: toHex(b.hbkId) }))
  })

  it('does not unwrap when any byte is changed, removed or added', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    for (let i = 0; i < ekt.length; i++) {
      const bad = ekt.slice()
      bad[i] = (bad[i] as number) ^ 0x01
      assert.equal(unwrapEkt(bad, lookup, binding), undefined, `byte ${i}`)
    }
    for (let n = 0; n < ekt.length; n++) assert.equal(unwrapEkt(ekt.subarray(0, n), lookup, binding), undefined)
    assert.equal(unwrapEkt(new Uint8Array([...ekt, 0]), lookup, binding), undefined)
  })

  it('does not unwrap when the HSM lacks its domain key, or under another domain key', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    assert.equal(unwrapEkt(ekt, () => undefined, binding), undefined)
    assert.equal(unwrapEkt(ekt, () => otherDk.key, binding), undefined)
  })

  it('binds every field through an unambiguous length-prefixed AAD', () => {
    const a = ektAad(dk.id, { ...binding, keySpec: 'AB', origin: 'C' })
    const b = ektAad(dk.id, { ...binding, keySpec: 'A', origin: 'BC' })
    assert.notEqual(toHex(a), toHex(b))
    assert.equal(toHex(lengthPrefixed([new Uint8Array([1, 2]), new Uint8Array(0)])), '000201020000')
  })

  it('Precondition: A length-prefixed field is at most 65535 bytes.', () => {
    assert.equal(lengthPrefixed([new Uint8Array(65535)]).length, 65537)
    assert.throws(() => lengthPrefixed([new Uint8Array(65536)]), internal)
  })

  it('Precondition: An HBK to wrap is 32 bytes; other key material 1 to 8192 bytes.', () => {
    assert.throws(() => wrapEkt(dk, new Uint8Array(16), binding, iv), internal)
    const rsa = { ...binding, keySpec: 'RSA_2048' }
    assert.throws(() => wrapEkt(dk, new Uint8Array(0), rsa, iv), internal)
    assert.throws(() => wrapEkt(dk, new Uint8Array(8193), rsa, iv), internal)
    const pkcs8 = new Uint8Array(1217).fill(5)
    const ekt = wrapEkt(dk, pkcs8, rsa, iv)
    assert.equal(ekt.length, EKT_V1_BYTES - 32 + 1217)
    assert.deepEqual(unwrapEkt(ekt, lookup, rsa), pkcs8)
    // The key spec in the AAD keeps a private key's EKT from passing as another spec's.
    assert.equal(unwrapEkt(ekt, lookup, { ...binding, keySpec: 'RSA_3072' }), undefined)
    assert.equal(unwrapEkt(ekt, lookup, binding), undefined)
  })

  it('Precondition: The HBK id bound into an EKT is 32 bytes.', () => {
    assert.throws(() => wrapEkt(dk, hbk, { ...binding, hbkId: new Uint8Array(16) }, iv), internal)
  })

  it('Precondition: An EKT to unwrap is exactly 77 bytes, or carries 1 to 8192 bytes of other key material.', () => {
    const ekt = wrapEkt(dk, hbk, binding, iv)
    assert.equal(unwrapEkt(new Uint8Array([...ekt, 1]), lookup, binding), undefined)
    // A wrapped 31-byte secret has a valid layout but is not an EKT.
    const short = wrapCredential(dk, 'AKIA', new Uint8Array(31), iv)
    assert.equal(unwrapEkt(short, lookup, binding), undefined)
  })

  it('Precondition: A wrapping domain key has a 16-byte id and a 32-byte key.', () => {
    assert.throws(() => wrapEkt({ id: new Uint8Array(8), key: dk.key }, hbk, binding, iv), internal)
    assert.throws(() => wrapCredential({ id: dk.id, key: new Uint8Array(16) }, 'AKIA', hbk, iv), internal)
  })
})

describe('wrapped credentials', () => {
  const secret = new TextEncoder().encode('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')

  it('unwrap only for the access key id they were wrapped for', () => {
    const wrapped = wrapCredential(dk, 'AKIDEXAMPLE', secret, iv)
    assert.equal(toHex(unwrapCredential(wrapped, lookup, 'AKIDEXAMPLE') ?? new Uint8Array()), toHex(secret))
    assert.equal(unwrapCredential(wrapped, lookup, 'AKIDEXAMPLF'), undefined)
    const tampered = wrapped.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    assert.equal(unwrapCredential(tampered, lookup, 'AKIDEXAMPLE'), undefined)
  })

  it('are not interchangeable with EKTs under the same domain key', () => {
    // A 32-byte secret wraps to exactly an EKT's length; the labels in the AADs keep them apart.
    const wrapped = wrapCredential(dk, 'AKIDEXAMPLE', hbk, iv)
    assert.equal(wrapped.length, EKT_V1_BYTES)
    assert.equal(unwrapEkt(wrapped, lookup, binding), undefined)
    const ekt = wrapEkt(dk, hbk, binding, iv)
    assert.equal(unwrapCredential(ekt, lookup, 'AKIDEXAMPLE'), undefined)
    assert.notEqual(toHex(credentialAad(dk.id, 'x')), toHex(ektAad(dk.id, binding)))
  })
})
