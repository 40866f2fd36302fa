import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { KmsError } from '../core/errors.js'
import { FRAME_MESSAGES, openChannel } from './channel.js'
import type { Hsm, KeyMaterialRef } from './hsm.js'
import { RemoteHsm } from './hsm-client.js'
import { serveHsm } from './hsm-server.js'
import { SoftwareHsm } from './software-hsm.js'
import { encodeRequest } from './protocol.js'
import { FakeHsm } from './test-fixtures/fake-hsm.js'
import { pipePair } from './test-fixtures/streams.js'

const PSK = new Uint8Array(randomBytes(32))
const key: KeyMaterialRef = {
  keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k1',
  keyId: 'k1',
  keySpec: 'SYMMETRIC_DEFAULT',
  origin: 'AWS_KMS',
  hbkId: new Uint8Array(32).fill(0x42),
  ekt: new Uint8Array([1, 2, 3]),
}

async function setup<H extends Hsm = FakeHsm>(
  fake: H = new FakeHsm() as Hsm as H,
  options: { callTimeoutMs?: number } = {},
): Promise<{ remote: RemoteHsm; fake: H; serverClosed: Promise<Error | undefined> }> {
  const pair = pipePair()
  const [remote, server] = await Promise.all([
    RemoteHsm.connect(pair.client, PSK, options),
    serveHsm(pair.server, fake, PSK),
  ])
  return { remote, fake, serverClosed: server.closed }
}

const isInternal = (e: unknown): boolean => e instanceof KmsError && e.code === 'KMSInternalException' && e.message === ''

describe('RemoteHsm over the channel', () => {
  it('calls every method and gets the engine’s answers', async () => {
    const { remote, fake } = await setup()
    const sealed = await remote.initDomain()
    await remote.loadDomain(sealed)
    assert.equal(fake.loaded.length, 2)
    const material = await remote.generateKeyMaterial(key)
    assert.ok(material.ekt.length > 0)
    const blob = await remote.encrypt(key, new Uint8Array([1, 2, 3]), { a: 'b' })
    assert.deepEqual(await remote.decrypt(key, blob, { a: 'b' }), new Uint8Array([1, 2, 3]))
    const dk = await remote.generateDataKey(key, 16, {}, true)
    assert.deepEqual(dk.plaintext, new Uint8Array(16).fill(7))
    const dkNo = await remote.generateDataKey(key, 16, {}, false)
    assert.equal('plaintext' in dkNo, false)
    const re = await remote.reEncrypt(key, blob, { a: 'b' }, key, {})
    assert.deepEqual(await remote.decrypt(key, re, {}), new Uint8Array([1, 2, 3]))
    assert.deepEqual(await remote.generateRandom(4), new Uint8Array([4, 4, 4, 4]))
    assert.ok((await remote.wrapSecret('AKID', new Uint8Array([9]))).length > 0)
    assert.equal(new TextDecoder().decode(await remote.deriveSigningKey('AKID', new Uint8Array(3), '20260101', 'us-east-1', 'kms')), 'AKID/3/20260101/us-east-1/kms')
    const auditKey = await remote.createAuditSigningKey()
    assert.equal(new TextDecoder().decode(auditKey.publicKey), 'fake-public-key')
    assert.deepEqual((await remote.signAuditDigest(auditKey.wrappedKey, new Uint8Array(3))).signature, new Uint8Array([...auditKey.wrappedKey.subarray(0, 4), 3]))
    await remote.close()
  })

  it('pipelines thousands of concurrent calls, each answer reaching its own caller', async () => {
    const { remote } = await setup()
    const n = 5000
    const calls = Array.from({ length: n }, (_, i) => {
      const plaintext = new TextEncoder().encode(`message ${i}`)
      // Random delays make the server answer out of order.
      const context = { i: String(i), delayMs: String(i % 7 === 0 ? (i * 13) % 20 : 0) }
      return remote.encrypt(key, plaintext, context).then((blob) => remote.decrypt(key, blob, context))
    })
    const results = await Promise.all(calls)
    results.forEach((r, i) => assert.equal(new TextDecoder().decode(r), `message ${i}`))
    assert.equal(remote.pendingCalls, 0)
    await remote.close()
  })

  it('re-throws engine errors with the same code and message', async () => {
    const { remote } = await setup()
    await assert.rejects(
      remote.encrypt(key, new Uint8Array(1), { throw: 'NotFoundException', message: 'Key k1 is not found' }),
      (e: unknown) => e instanceof KmsError && e.code === 'NotFoundException' && e.message === 'Key k1 is not found',
    )
    await assert.rejects(
      remote.decrypt({ ...key, hbkId: new Uint8Array(32) }, new Uint8Array([1, 2]), {}),
      (e: unknown) => e instanceof KmsError && e.code === 'InvalidCiphertextException' && e.message === '',
    )
    await assert.rejects(remote.generateRandom(0), (e: unknown) => e instanceof KmsError && e.code === 'ValidationException' && e.message === 'bad NumberOfBytes 0')
    // A plain Error is the engine's own fault: its message stays inside the HSM.
    await assert.rejects(remote.encrypt(key, new Uint8Array(1), { throw: 'plain' }), isInternal)
    // Errors do not disturb the channel.
    assert.deepEqual(await remote.generateRandom(2), new Uint8Array([2, 2]))
    await remote.close()
  })

  it('fails every pending call with KMSInternalException when the channel dies, and every later call', async () => {
    const { remote } = await setup()
    const slow = Array.from({ length: 50 }, () => remote.encrypt(key, new Uint8Array(1), { delayMs: '200' }))
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(remote.pendingCalls, 50)
    remote.abort()
    const settled = await Promise.allSettled(slow)
    assert.ok(settled.every((s) => s.status === 'rejected' && isInternal(s.reason)))
    await assert.rejects(remote.generateRandom(1), isInternal)
    assert.equal(remote.isOpen, false)
  })

  it('fails pending calls when the server side goes away', async () => {
    const pair = pipePair()
    const fake = new FakeHsm()
    const [remote, server] = await Promise.all([RemoteHsm.connect(pair.client, PSK), serveHsm(pair.server, fake, PSK)])
    const slow = remote.encrypt(key, new Uint8Array(1), { delayMs: '500' })
    await new Promise((r) => setTimeout(r, 20))
    server.abort()
    await assert.rejects(slow, isInternal)
    await remote.closed
  })

  it('times out a call that is never answered', async () => {
    const { remote } = await setup(new FakeHsm(), { callTimeoutMs: 100 })
    const started = Date.now()
    await assert.rejects(remote.encrypt(key, new Uint8Array(1), { delayMs: '600' }), isInternal)
    assert.ok(Date.now() - started < 500)
    // The late answer is dropped; the channel still works.
    assert.deepEqual(await remote.generateRandom(1), new Uint8Array([1]))
    await remote.close()
  })

  it('the server answers an undecodable request with KMSInternalException and keeps serving', async () => {
    const pair = pipePair()
    const fake = new FakeHsm()
    const [client] = await Promise.all([openChannel(pair.client, { role: 'client', psk: PSK }), serveHsm(pair.server, fake, PSK)])
    const answers: Uint8Array[] = []
    client.listen((m) => answers.push(new Uint8Array(m)))
    const bad = encodeRequest(77, 'generateRandom', [4])
    bad[4] = 250 // unknown opcode
    client.send(bad)
    client.send(encodeRequest(78, 'generateRandom', [4]))
    while (answers.length < 2) await new Promise((r) => setImmediate(r))
    const byId = new Map(answers.map((a) => [Buffer.from(a).readUInt32BE(0), a]))
    assert.equal(byId.get(77)![4], 1)
    assert.equal(byId.get(78)![4], 0)
    client.close()
  })

  it('answers a result too large for a frame with KMSInternalException', async () => {
    const pair = pipePair()
    const fake = new FakeHsm()
    fake.generateRandom = async (n: number) => new Uint8Array(n)
    const [remote] = await Promise.all([
      RemoteHsm.connect(pair.client, PSK),
      serveHsm(pair.server, fake, PSK, { maxFrameBytes: 4096 }),
    ])
    await assert.rejects(remote.generateRandom(5000), isInternal)
    assert.equal((await remote.generateRandom(4000)).length, 4000)
    await remote.close()
  })

  it(`coalesces a burst of calls into frames of ${FRAME_MESSAGES}`, async () => {
    let frames = 0
    const pair = pipePair({ c2s: (f) => (frames++, [f]) })
    const [remote] = await Promise.all([RemoteHsm.connect(pair.client, PSK), serveHsm(pair.server, new FakeHsm(), PSK)])
    await Promise.all(Array.from({ length: 200 }, (_, i) => remote.generateRandom(1 + (i % 10))))
    assert.equal(frames, 200 / FRAME_MESSAGES)
    await remote.close()
  })

  it('carries the real SoftwareHsm: blobs round-trip, errors keep their codes, a reloaded domain decrypts', async () => {
    const engine = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(0x5e) })
    const { remote } = await setup(engine)
    const sealed = await remote.initDomain()
    const binding = { keyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS' }
    const ref: KeyMaterialRef = { ...binding, ...(await remote.generateKeyMaterial(binding)) }
    const context = { purpose: 'channel test', ['__proto__']: 'x' }
    const blobs = await Promise.all(Array.from({ length: 200 }, (_, i) => remote.encrypt(ref, new TextEncoder().encode(`secret ${i}`), context)))
    const plain = await Promise.all(blobs.map((b) => remote.decrypt(ref, b, context)))
    plain.forEach((p, i) => assert.equal(new TextDecoder().decode(p), `secret ${i}`))
    await assert.rejects(remote.decrypt(ref, blobs[0]!, { purpose: 'other' }), (e: unknown) => e instanceof KmsError && e.code === 'InvalidCiphertextException' && e.message === '')
    const dk = await remote.generateDataKey(ref, 32, {}, true)
    assert.equal(dk.plaintext?.length, 32)
    assert.deepEqual(await remote.decrypt(ref, dk.ciphertextBlob, {}), dk.plaintext)
    await remote.close()

    // A fresh engine behind a fresh channel, given the sealed domain, decrypts the old blobs.
    const again = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(0x5e) })
    const second = await setup(again)
    await second.remote.loadDomain(sealed)
    assert.equal(new TextDecoder().decode(await second.remote.decrypt(ref, blobs[7]!, context)), 'secret 7')
    await second.remote.close()
    await engine.close()
    await again.close()
  })
})
