import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createDecipheriv, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { KeyMaterialRef } from './hsm.js'
import { SoftwareHsm } from './software-hsm.js'
import { parseBlobHeader } from './blob.js'

interface Fixture {
  sealKey: string
  randomStream: Array<{ purpose: string; hex: string }>
  sealedDomain: string
  keys: Array<{ keyArn: string; keyId: string; keySpec: string; origin: string; hbkId: string; ekt: string }>
  blobs: Array<{ name: string; key: number; context: Record<string, string>; plaintext: string; blob: string }>
  dataKey: { key: number; numberOfBytes: number; context: Record<string, string>; plaintext: string; blob: string }
  credential: {
    accessKeyId: string
    secretUtf8: string
    wrapped: string
    date: string
    region: string
    service: string
    signingKey: string
  }
}

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/vectors/blob-v1-fixtures.json', import.meta.url), 'utf8'),
) as Fixture

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const keyRef = (i: number): KeyMaterialRef => {
  const k = fixture.keys[i]
  assert.ok(k)
  return { keyArn: k.keyArn, keyId: k.keyId, keySpec: k.keySpec, origin: k.origin, hbkId: hex(k.hbkId), ekt: hex(k.ekt) }
}

function replayRandom(): { random: (n: number) => Uint8Array; remaining: () => number } {
  let next = 0
  return {
    random: (n) => {
      const entry = fixture.randomStream[next++]
      assert.ok(entry, 'the engine drew more random values than the fixture holds')
      const bytes = hex(entry.hex)
      assert.equal(n, bytes.length, `random draw ${next - 1} (${entry.purpose}) has a different length`)
      return bytes
    },
    remaining: () => fixture.randomStream.length - next,
  }
}

describe('frozen blob v1 fixtures', () => {
  it('a fixed-random engine reproduces every stored byte, drawing random values in the stored order', async () => {
    const { random, remaining } = replayRandom()
    const hsm = await SoftwareHsm.create({ sealKey: hex(fixture.sealKey), random })
    assert.equal(toHex(await hsm.initDomain()), fixture.sealedDomain, 'sealed domain')
    for (const [i, k] of fixture.keys.entries()) {
      const m = await hsm.generateKeyMaterial({ keyArn: k.keyArn, keyId: k.keyId, keySpec: k.keySpec, origin: k.origin })
      assert.equal(toHex(m.hbkId), k.hbkId, `key ${i} HBK id`)
      assert.equal(toHex(m.ekt), k.ekt, `key ${i} EKT`)
    }
    for (const b of fixture.blobs) {
      assert.equal(toHex(await hsm.encrypt(keyRef(b.key), hex(b.plaintext), b.context)), b.blob, b.name)
    }
    const d = fixture.dataKey
    const dataKey = await hsm.generateDataKey(keyRef(d.key), d.numberOfBytes, d.context, true)
    assert.equal(toHex(dataKey.ciphertextBlob), d.blob, 'data key blob')
    assert.equal(toHex(dataKey.plaintext ?? new Uint8Array()), d.plaintext, 'data key plaintext')
    const c = fixture.credential
    assert.equal(toHex(await hsm.wrapSecret(c.accessKeyId, new TextEncoder().encode(c.secretUtf8))), c.wrapped, 'wrapped credential')
    assert.equal(remaining(), 0, 'every stored random value was used')
  })

  it('stored blobs decrypt in an engine that loads the stored sealed domain', async () => {
    const hsm = await SoftwareHsm.create({ sealKey: hex(fixture.sealKey) })
    await hsm.loadDomain(hex(fixture.sealedDomain))
    for (const b of fixture.blobs) {
      assert.equal(toHex(await hsm.decrypt(keyRef(b.key), hex(b.blob), b.context)), b.plaintext, b.name)
    }
    const d = fixture.dataKey
    assert.equal(toHex(await hsm.decrypt(keyRef(d.key), hex(d.blob), d.context)), d.plaintext)
    const c = fixture.credential
    const signingKey = await hsm.deriveSigningKey(c.accessKeyId, hex(c.wrapped), c.date, c.region, c.service)
    assert.equal(toHex(signingKey), c.signingKey)
  })

  it('parseBlobHeader reads the key id and HBK id of every stored blob', () => {
    for (const b of [...fixture.blobs, fixture.dataKey]) {
      const k = fixture.keys[b.key]
      const h = parseBlobHeader(hex(b.blob))
      assert.ok(h && k)
      assert.equal(h.keyId, k.keyId)
      assert.equal(toHex(h.hbkId), k.hbkId)
    }
  })

  it('an independent decoder written from docs/ciphertext-format.md opens the stored bytes', () => {
    const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')
    const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])
    const lp = (...fields: Uint8Array[]): Buffer => Buffer.concat(fields.flatMap((f) => [u16(f.length), Buffer.from(f)]))
    const kdf32 = (key: Uint8Array, label: string, context: Uint8Array): Buffer =>
      createHmac('sha256', key)
        .update(Buffer.concat([Buffer.from([0, 0, 0, 1]), utf8(label), Buffer.from([0]), context, Buffer.from([0, 0, 1, 0])]))
        .digest()
    const gcmOpen = (key: Uint8Array, iv: Uint8Array, body: Uint8Array, aad: Uint8Array): Buffer => {
      const d = createDecipheriv('aes-256-gcm', key, iv)
      d.setAAD(aad)
      d.setAuthTag(body.subarray(body.length - 16))
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()])
    }
    const context = (c: Record<string, string>): Buffer => {
      const pairs = Object.entries(c).map(([k, v]) => [utf8(k), utf8(v)] as const).sort((a, b) => Buffer.compare(a[0], b[0]))
      return Buffer.concat([u16(pairs.length), ...pairs.flatMap(([k, v]) => [u16(k.length), k, u16(v.length), v])])
    }

    // Sealed domain: 0x01 || domainId(16) || iv(12) || ct || tag(16).
    const sealed = hex(fixture.sealedDomain)
    assert.equal(sealed[0], 0x01)
    const domainId = sealed.subarray(1, 17)
    const state = gcmOpen(
      kdf32(hex(fixture.sealKey), 'trent-domain-seal-v1', domainId),
      sealed.subarray(17, 29),
      sealed.subarray(29),
      lp(utf8('trent-sealed-domain-v1'), sealed.subarray(0, 17)),
    )
    // State: 0x01 || domainId || uint16 count || (id(16) || flags(1) || key(32))*.
    assert.equal(state[0], 0x01)
    assert.equal(toHex(state.subarray(1, 17)), toHex(domainId))
    assert.equal(state.readUInt16BE(17), 1)
    const domainKeyId = state.subarray(19, 35)
    assert.equal(state[35], 0x01, 'active')
    const domainKey = state.subarray(36, 68)

    for (const b of [...fixture.blobs, { ...fixture.dataKey, name: 'data key' }]) {
      const k = fixture.keys[b.key]
      assert.ok(k)
      // EKT: 0x01 || domainKeyId(16) || iv(12) || wrapped HBK(32) || tag(16).
      const ekt = hex(k.ekt)
      assert.equal(ekt.length, 77)
      assert.equal(toHex(ekt.subarray(1, 17)), toHex(domainKeyId))
      const hbk = gcmOpen(
        domainKey,
        ekt.subarray(17, 29),
        ekt.subarray(29),
        lp(utf8('trent-ekt-v1'), domainKeyId, utf8(k.keyArn), hex(k.hbkId), utf8(k.keySpec), utf8(k.origin)),
      )
      // Blob: 0x01 || uint8 36 || keyId || hbkId(32) || nonce(16) || iv(12) || ct || tag(16).
      const blob = hex(b.blob)
      assert.equal(blob[0], 0x01)
      assert.equal(blob[1], 36)
      assert.equal(Buffer.from(blob.subarray(2, 38)).toString('latin1'), k.keyId)
      assert.equal(toHex(blob.subarray(38, 70)), k.hbkId)
      const perRequestKey = kdf32(hbk, 'trent-kms-blob-v1', blob.subarray(70, 86))
      const plaintext = gcmOpen(
        perRequestKey,
        blob.subarray(86, 98),
        blob.subarray(98),
        Buffer.concat([blob.subarray(0, 98), context(b.context)]),
      )
      assert.equal(plaintext.toString('hex'), b.plaintext, b.name)
    }

    // Wrapped credential: 0x01 || domainKeyId(16) || iv(12) || ct || tag(16).
    const c = fixture.credential
    const wrapped = hex(c.wrapped)
    const secret = gcmOpen(
      domainKey,
      wrapped.subarray(17, 29),
      wrapped.subarray(29),
      lp(utf8('trent-credential-v1'), wrapped.subarray(1, 17), utf8(c.accessKeyId)),
    )
    assert.equal(secret.toString('utf8'), c.secretUtf8)
  })
})
