import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import type { Clock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { SoftwareHsm } from '../hsm/software-hsm.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import type { KeyRecord, Store } from '../store/store.js'
import type { SystemEvent } from './key-material.js'
import { KEY_MATERIAL_LEASE, KeyMaterialScheduler } from './key-material-scheduler.js'

const DAY = 24 * 60 * 60 * 1000
const T0 = 1_800_000_000_000

class FakeClock implements Clock {
  t = T0
  now(): number {
    return this.t
  }
}

async function setup(): Promise<{ store: SqliteStore; hsm: SoftwareHsm; clock: FakeClock }> {
  const store = new SqliteStore(new Database(':memory:'))
  await store.migrate()
  const hsm = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(9) })
  await hsm.initDomain()
  return { store, hsm, clock: new FakeClock() }
}

/** A symmetric key with its first HBK, rotating every 90 days, due at `nextRotationDate`. */
async function rotatingKey(store: Store, hsm: SoftwareHsm, nextRotationDate: number): Promise<KeyRecord> {
  const keyId = randomUUID()
  const arn = `arn:aws:kms:us-east-1:111122223333:key/${keyId}`
  const m = await hsm.generateKeyMaterial({ keyArn: arn, keyId, keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS' })
  const keyMaterialId = Buffer.from(m.hbkId).toString('hex')
  const key: KeyRecord = {
    keyId, arn, accountId: '111122223333', region: 'us-east-1', creationDate: T0 - 100 * DAY, description: '', keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS', keyState: 'Enabled', keyManager: 'CUSTOMER', multiRegion: false,
    currentKeyMaterialId: keyMaterialId, rotationPeriodInDays: 90, nextRotationDate, policy: '{}', tags: [], version: 1,
  }
  await store.createKey(key, { keyId, keyMaterialId, ekt: m.ekt, createdAt: key.creationDate })
  return key
}

/** `target` with some methods replaced; the others still run on `target` (its private fields intact). */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, p) {
      if (Object.hasOwn(overrides, p)) return overrides[p as keyof T]
      const v: unknown = Reflect.get(t, p, t)
      return typeof v === 'function' ? v.bind(t) : v
    },
  })
}

describe('KeyMaterialScheduler', () => {
  it('rotates every due key across batches, reports each, and sets the next date one period on', async () => {
    const { store, hsm, clock } = await setup()
    const due = []
    for (let i = 0; i < 5; i++) due.push(await rotatingKey(store, hsm, T0 - i * DAY))
    const later = await rotatingKey(store, hsm, T0 + DAY)
    const events: SystemEvent[] = []
    const scheduler = new KeyMaterialScheduler({ store, hsm, clock, holder: 'a', batchSize: 2, onSystemEvent: (e) => void events.push(e) })
    assert.deepEqual(await scheduler.runOnce(), { rotated: 5, expired: 0 })
    assert.deepEqual(new Set(events.map((e) => e.keyId)), new Set(due.map((k) => k.keyId)))
    for (const k of due) {
      const stored = (await store.getKey(k.keyId))!
      assert.notEqual(stored.currentKeyMaterialId, k.currentKeyMaterialId)
      assert.equal(stored.nextRotationDate, T0 + 90 * DAY)
      assert.equal((await store.listKeyMaterials(k.keyId)).length, 2)
    }
    assert.equal((await store.getKey(later.keyId))!.version, 1, 'not due yet')
    assert.deepEqual(await scheduler.runOnce(), { rotated: 0, expired: 0 })
  })

  it('does nothing while another node holds the lease, and takes over once it expires', async () => {
    const { store, hsm, clock } = await setup()
    const key = await rotatingKey(store, hsm, T0)
    assert.equal(await store.acquireLease(KEY_MATERIAL_LEASE, 'other', T0, 60_000), true)
    const scheduler = new KeyMaterialScheduler({ store, hsm, clock, holder: 'a', onSystemEvent: () => undefined })
    assert.deepEqual(await scheduler.runOnce(), { rotated: 0, expired: 0 })
    assert.equal((await store.getKey(key.keyId))!.version, 1)
    clock.t += 60_000
    assert.deepEqual(await scheduler.runOnce(), { rotated: 1, expired: 0 })
  })

  it('skips a key changed after it was read (the write is conditional) and rotates it at the next run', async () => {
    const { store, hsm, clock } = await setup()
    const key = await rotatingKey(store, hsm, T0)
    let interfere = true
    // Between the job's read and its write, a request changes the key.
    const racing = overriding<Store>(store, {
      keysDueForRotation: async (now: number, limit: number) => {
        const keys = await store.keysDueForRotation(now, limit)
        if (interfere) {
          interfere = false
          const k = (await store.getKey(key.keyId))!
          await store.updateKey({ ...k, description: 'changed', version: k.version + 1 })
        }
        return keys
      },
    })
    const scheduler = new KeyMaterialScheduler({ store: racing, hsm, clock, holder: 'a', onSystemEvent: () => undefined })
    assert.deepEqual(await scheduler.runOnce(), { rotated: 0, expired: 0 })
    assert.equal((await store.listKeyMaterials(key.keyId)).length, 1, 'no rotation was written')
    assert.deepEqual(await scheduler.runOnce(), { rotated: 1, expired: 0 })
    assert.equal((await store.getKey(key.keyId))!.description, 'changed', 'the request is not lost')
  })

  it('a failing HSM fails the run, changes nothing, and start() logs it instead of throwing', async () => {
    const { store, hsm, clock } = await setup()
    const key = await rotatingKey(store, hsm, T0)
    const failing = overriding<SoftwareHsm>(hsm, {
      generateKeyMaterial: async () => {
        throw new KmsError('KMSInternalException', 'HSM down')
      },
    })
    const logged: string[] = []
    const scheduler = new KeyMaterialScheduler({ store, hsm: failing, clock, holder: 'a', log: (m) => logged.push(m), onSystemEvent: () => undefined })
    await assert.rejects(scheduler.runOnce(), /HSM down/)
    await scheduler.start()
    await scheduler.stop()
    assert.equal(logged.length, 1)
    assert.match(logged[0]!, /key material job failed/)
    assert.deepEqual(await store.getKey(key.keyId), key)
    assert.equal(await store.acquireLease(KEY_MATERIAL_LEASE, 'other', clock.now(), 1000), true, 'stop() gave the lease up')
  })

  it('refuses nonsensical options', () => {
    assert.throws(() => new KeyMaterialScheduler({ store: {} as Store, hsm: {} as SoftwareHsm, clock: new FakeClock(), holder: 'a', intervalMs: 0 }), RangeError)
  })
})
