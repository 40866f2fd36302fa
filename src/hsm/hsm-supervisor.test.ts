import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KmsError } from '../core/errors.js'
import type { Hsm, KeyMaterialRef } from './hsm.js'
import { SupervisedHsm, type HsmExit, type SupervisedHsmOptions } from './hsm-supervisor.js'

const FAKE_CHILD = fileURLToPath(new URL('./test-fixtures/fake-hsm-child.js', import.meta.url))
const key: KeyMaterialRef = {
  keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k1',
  keyId: 'k1',
  keySpec: 'SYMMETRIC_DEFAULT',
  origin: 'AWS_KMS',
  hbkId: new Uint8Array(32).fill(0x42),
  ekt: new Uint8Array([1, 2, 3]),
}
const SEALED = new TextEncoder().encode('sealed domain')
const isInternal = (e: unknown): boolean => e instanceof KmsError && e.code === 'KMSInternalException'

function supervised(options: Partial<SupervisedHsmOptions> = {}): { hsm: SupervisedHsm; starts: () => number } {
  let starts = 0
  const hsm = new SupervisedHsm({
    command: process.execPath,
    args: [FAKE_CHILD],
    onStart: async (h: Hsm) => {
      starts++
      await h.loadDomain(SEALED)
    },
    initialBackoffMs: 20,
    ...options,
  })
  return { hsm, starts: () => starts }
}

/** An encrypt that the fake engine refuses unless the setup step loaded a domain. */
const guarded = (hsm: Hsm, i: number, delayMs = 0): Promise<Uint8Array> =>
  hsm.encrypt(key, new Uint8Array([i & 0xff]), { requireDomain: '1', delayMs: String(delayMs) })

describe('SupervisedHsm', () => {
  it('spawns the child, runs the setup step, then serves', async () => {
    const { hsm, starts } = supervised()
    await hsm.ready()
    assert.equal(hsm.isReady, true)
    assert.equal(typeof hsm.pid, 'number')
    assert.equal(starts(), 1)
    assert.deepEqual(await guarded(hsm, 5), new Uint8Array([5, 0x42]))
    await hsm.close()
  })

  it('close() ends the child cleanly, stops respawning, and fails later calls', async () => {
    const { hsm } = supervised()
    await hsm.ready()
    const exits: HsmExit[] = []
    hsm.on('exit', (e) => exits.push(e))
    let spawns = 0
    hsm.on('spawn', () => spawns++)
    await hsm.close()
    assert.equal(hsm.pid, undefined)
    assert.deepEqual(exits.map((e) => [e.code, e.signal]), [[0, null]])
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(spawns, 0)
    await assert.rejects(hsm.generateRandom(1), isInternal)
    await assert.rejects(hsm.ready())
  })

  it('respawns a killed child: in-flight calls fail, later calls succeed after setup ran again', async () => {
    const { hsm, starts } = supervised()
    await hsm.ready()
    const firstPid = hsm.pid!
    // Load: a steady stream of calls, some of them slow so they are in flight at the kill.
    const inFlight = Array.from({ length: 300 }, (_, i) => guarded(hsm, i, i % 3 === 0 ? 300 : 0))
    await new Promise((r) => setTimeout(r, 50))
    const slow = Array.from({ length: 100 }, (_, i) => guarded(hsm, i, 1000))
    await new Promise((r) => setTimeout(r, 20))
    const ready = once(hsm, 'ready')
    process.kill(firstPid, 'SIGKILL')
    const settled = await Promise.allSettled(slow)
    assert.ok(settled.every((s) => s.status === 'rejected' && isInternal(s.reason)), 'every call in flight failed with KMSInternalException')
    const early = await Promise.allSettled(inFlight)
    assert.ok(early.every((s) => s.status === 'fulfilled' || isInternal(s.reason)))

    // Calls made while the child is being replaced wait for it instead of failing.
    const during = Array.from({ length: 50 }, (_, i) => guarded(hsm, i))
    await ready
    assert.notEqual(hsm.pid, firstPid)
    assert.equal(starts(), 2)
    const results = await Promise.all([...during, ...Array.from({ length: 500 }, (_, i) => guarded(hsm, i))])
    results.forEach((r, i) => assert.equal(r[0], (i < 50 ? i : i - 50) & 0xff))
    await hsm.close()
  })

  it('gives up after repeated start failures and fails calls', async () => {
    const { hsm } = supervised({ args: ['-e', 'process.exit(3)'], maxStartFailures: 3 })
    let spawns = 0
    hsm.on('spawn', () => spawns++)
    const failed = once(hsm, 'failed')
    await assert.rejects(hsm.ready(), /failed to start 3 times/)
    await failed
    assert.equal(spawns, 2) // the first spawn happened before the listener was attached
    await assert.rejects(hsm.encrypt(key, new Uint8Array(1), {}), isInternal)
    await hsm.close()
  })

  it('a failing setup step counts as a failed start', async () => {
    let attempts = 0
    const { hsm } = supervised({
      maxStartFailures: 2,
      onStart: async (h) => {
        attempts++
        await h.encrypt(key, new Uint8Array(1), { throw: 'KMSInvalidStateException' })
      },
    })
    await assert.rejects(hsm.ready(), /failed to start 2 times/)
    assert.equal(attempts, 2)
    await hsm.close()
  })

  it('a caller waits a bounded time for a child that does not come up', async () => {
    // A child that never answers the handshake.
    const { hsm } = supervised({ args: ['-e', 'setInterval(() => {}, 1000)'], startWaitMs: 150, handshakeTimeoutMs: 5000 })
    const started = Date.now()
    await assert.rejects(hsm.generateRandom(1), isInternal)
    const waited = Date.now() - started
    assert.ok(waited >= 140 && waited < 2000, `waited ${waited} ms`)
    await hsm.close()
  })

  it('a spawn that fails outright is retried and then reported', async () => {
    const { hsm } = supervised({ command: '/nonexistent/trent-hsm', args: [], maxStartFailures: 2 })
    await assert.rejects(hsm.ready(), /failed to start 2 times/)
    await hsm.close()
  })
})
