import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { Clock } from '../core/clock.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import type { KeyRecord, Store } from '../store/store.js'
import type { AuditEvent, AuditSink } from '../audit/event.js'
import { recordSystemEvent } from './audit-record.js'
import { DELETION_LEASE, DeletionScheduler, type DeletionSchedulerOptions } from './deletion-scheduler.js'

const DAY = 24 * 60 * 60 * 1000
const T0 = 1_800_000_000_000

const dir = mkdtempSync(join(tmpdir(), 'trent-deletion-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A clock that moves only when told. */
class FakeClock implements Clock {
  t = T0
  now(): number {
    return this.t
  }
}

async function memoryStore(): Promise<SqliteStore> {
  const store = new SqliteStore(new Database(':memory:'))
  await store.migrate()
  return store
}

let files = 0
function freshFile(): string {
  return join(dir, `store-${++files}.db`)
}

async function fileStore(file: string): Promise<SqliteStore> {
  const store = new SqliteStore(new Database(file))
  await store.migrate()
  return store
}

function record(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = randomUUID()
  return {
    keyId,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    accountId: '111122223333',
    region: 'us-east-1',
    creationDate: T0 - 30 * DAY,
    description: '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyState: 'Enabled',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    policy: '{}',
    tags: [],
    version: 1,
    ...overrides,
  }
}

/** Stores a key with one material and one alias; pending deletion at `deletionDate` when given. */
async function addKey(store: Store, deletionDate?: number): Promise<KeyRecord> {
  const keyMaterialId = randomBytes(32).toString('hex')
  const key = record({
    currentKeyMaterialId: keyMaterialId,
    ...(deletionDate === undefined ? {} : { keyState: 'PendingDeletion', deletionDate, pendingWindowInDays: 7 }),
  })
  await store.createKey(key, { keyId: key.keyId, keyMaterialId, ekt: new Uint8Array(randomBytes(96)), createdAt: key.creationDate })
  assert.equal(
    await store.createAlias({ accountId: key.accountId, region: key.region, aliasName: `alias/k-${key.keyId}`, targetKeyId: key.keyId, creationDate: T0, lastUpdatedDate: T0 }),
    true,
  )
  return key
}

/** Whether anything of the key is left: its record, its material, its alias. */
async function remains(store: Store, key: KeyRecord): Promise<{ key: boolean; material: boolean; alias: boolean }> {
  return {
    key: (await store.getKey(key.keyId)) !== undefined,
    material: (await store.getKeyMaterial(key.keyId, key.currentKeyMaterialId!)) !== undefined,
    alias: (await store.getAliasTarget(key.accountId, key.region, `alias/k-${key.keyId}`)) !== undefined,
  }
}
const ALL = { key: true, material: true, alias: true }
const NONE = { key: false, material: false, alias: false }

/** The store with some methods replaced (the SQLite store keeps private fields, so calls go to it bound). */
function withOverrides(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<PropertyKey, unknown>)[prop]
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

function scheduler(store: Store, clock: Clock, options: Partial<DeletionSchedulerOptions> = {}): DeletionScheduler & { logs: string[] } {
  const logs: string[] = []
  const s = new DeletionScheduler({ store, clock, holder: `node-${randomUUID()}`, log: (m) => logs.push(m), ...options })
  return Object.assign(s, { logs })
}

describe('DeletionScheduler', () => {
  it('deletes nothing before the deletion date', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const pending = await addKey(store, T0 + 1)
    const live = await addKey(store)
    const s = scheduler(store, clock)
    assert.equal(await s.runOnce(), 0)
    assert.deepEqual(await remains(store, pending), ALL)
    assert.deepEqual(await remains(store, live), ALL)
    await s.stop()
    await store.close()
  })

  it('deletes a due key with its EKTs and aliases, and nothing else', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const due = await addKey(store, T0 + 7 * DAY)
    const later = await addKey(store, T0 + 30 * DAY)
    const live = await addKey(store)
    const s = scheduler(store, clock)
    clock.t = T0 + 7 * DAY // due exactly at its deletion date
    assert.equal(await s.runOnce(), 1)
    assert.deepEqual(await remains(store, due), NONE)
    assert.deepEqual(await remains(store, later), ALL)
    assert.deepEqual(await remains(store, live), ALL)
    assert.ok(s.logs.some((l) => l.includes(`deleted key ${due.arn}`)), s.logs.join('\n'))
    assert.equal(await s.runOnce(), 0)
    await s.stop()
    await store.close()
  })

  it('records each deletion as an AwsServiceEvent DeleteKey, and a failed record does not undo it', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const due = await addKey(store, T0)
    const alsoDue = await addKey(store, T0)
    const events: AuditEvent[] = []
    const deps = { region: 'us-east-1', clock, audit: { append: async (e: AuditEvent) => void events.push(e) } as unknown as AuditSink }
    let fail = true
    const s = scheduler(store, clock, {
      recordEvent: (e) => {
        if (fail) {
          fail = false
          return Promise.reject(new Error('disk full'))
        }
        return recordSystemEvent(deps, e)
      },
    })
    assert.equal(await s.runOnce(), 2)
    assert.deepEqual([await remains(store, due), await remains(store, alsoDue)], [NONE, NONE])
    assert.ok(s.logs.some((l) => l.includes('could not be written')), s.logs.join('\n'))
    assert.equal(events.length, 1)
    const [event] = events
    assert.equal(event!.eventType, 'AwsServiceEvent')
    assert.equal(event!.eventName, 'DeleteKey')
    assert.deepEqual(event!.userIdentity, { type: 'AWSService', accountId: '111122223333', invokedBy: 'AWS Internal' })
    assert.equal(event!.sourceIPAddress, 'AWS Internal')
    assert.equal(event!.requestParameters, null)
    assert.equal(event!.resources?.[0]?.type, 'AWS::KMS::Key')
    await s.stop()
    await store.close()
  })

  it('keeps a key whose deletion was cancelled before it fell due', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const key = await addKey(store, T0 + DAY)
    const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = key
    await store.updateKey({ ...rest, keyState: 'Disabled', version: key.version + 1 })
    clock.t = T0 + 2 * DAY
    const s = scheduler(store, clock)
    assert.equal(await s.runOnce(), 0)
    assert.deepEqual(await remains(store, key), ALL)
    await s.stop()
    await store.close()
  })

  it('a cancel between listing and deleting wins', async () => {
    const real = await memoryStore()
    const clock = new FakeClock()
    const key = await addKey(real, T0)
    const store = withOverrides(real, {
      async keysDueForDeletion(now, limit) {
        const due = await real.keysDueForDeletion(now, limit)
        // CancelKeyDeletion lands right after the job read the key.
        const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = key
        await real.updateKey({ ...rest, keyState: 'Disabled', version: key.version + 1 })
        return due
      },
    })
    const s = scheduler(store, clock)
    assert.equal(await s.runOnce(), 0)
    assert.deepEqual(await remains(real, key), ALL)
    assert.equal((await real.getKey(key.keyId))?.keyState, 'Disabled')
    await s.stop()
    await real.close()
  })

  it('works through many due keys in batches, oldest first', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const keys = []
    for (let i = 0; i < 25; i++) keys.push(await addKey(store, T0 - i))
    const s = scheduler(store, clock, { batchSize: 10 })
    assert.equal(await s.runOnce(), 25)
    for (const k of keys) assert.deepEqual(await remains(store, k), NONE)
    const order = s.logs.map((l) => /deleted key (\S+)/.exec(l)?.[1])
    assert.deepEqual(order, keys.map((k) => k.arn).reverse())
    await s.stop()
    await store.close()
  })

  it('two schedulers on one database file at once: each due key deleted exactly once, the lease held by one', async () => {
    const file = freshFile()
    const a = await fileStore(file)
    const b = await fileStore(file)
    const clock = new FakeClock()
    const due = []
    for (let i = 0; i < 30; i++) due.push(await addKey(a, T0 - DAY + i))
    const notDue = await addKey(a, T0 + DAY)
    const sa = scheduler(a, clock, { batchSize: 7 })
    const sb = scheduler(b, clock, { batchSize: 7 })
    const counts = await Promise.all([sa.runOnce(), sb.runOnce()])
    assert.equal(counts[0]! + counts[1]!, due.length)
    assert.deepEqual([...counts].sort((x, y) => x - y), [0, due.length], 'one node got the lease and did all the work')
    for (const k of due) assert.deepEqual(await remains(b, k), NONE)
    assert.deepEqual(await remains(b, notDue), ALL)

    // The winner keeps the lease between runs; a third node cannot take it until it is released.
    const [winner, loser] = counts[0] === due.length ? [sa, sb] : [sb, sa]
    assert.equal(await a.acquireLease(DELETION_LEASE, 'node-c', clock.now(), 1000), false)
    await winner.stop()
    clock.t = T0 + DAY
    assert.equal(await loser.runOnce(), 1, 'the lease is free once the winner stopped')
    await loser.stop()
    await a.close()
    await b.close()
  })

  it('even if both nodes believe they hold the lease, no key is deleted twice', async () => {
    const file = freshFile()
    const a = await fileStore(file)
    const b = await fileStore(file)
    const clock = new FakeClock()
    const due = []
    for (let i = 0; i < 40; i++) due.push(await addKey(a, T0 - i))
    // A lease that expired mid-run looks like this: both run the same batches.
    const granted = { acquireLease: async () => true }
    const sa = scheduler(withOverrides(a, granted), clock, { batchSize: 8 })
    const sb = scheduler(withOverrides(b, granted), clock, { batchSize: 8 })
    const counts = await Promise.all([sa.runOnce(), sb.runOnce(), sa.runOnce(), sb.runOnce()])
    assert.equal(counts.reduce((x, y) => x + y, 0), due.length)
    for (const k of due) assert.deepEqual(await remains(a, k), NONE)
    const logged = [...sa.logs, ...sb.logs].filter((l) => l.includes('deleted key'))
    assert.equal(logged.length, due.length)
    assert.equal(new Set(logged).size, due.length)
    await a.close()
    await b.close()
  })

  it('a lease left by a node that died blocks the job only until it expires', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const key = await addKey(store, T0)
    assert.equal(await store.acquireLease(DELETION_LEASE, 'dead-node', clock.now(), 5000), true)
    const s = scheduler(store, clock, { leaseMs: 5000 })
    assert.equal(await s.runOnce(), 0)
    assert.deepEqual(await remains(store, key), ALL)
    clock.t += 5000
    assert.equal(await s.runOnce(), 1)
    await s.stop()
    await store.close()
  })

  it('start() catches up at once, then runs every intervalMs; stop() releases the lease', async () => {
    const store = await memoryStore()
    const clock = new FakeClock()
    const overdue = await addKey(store, T0 - 3 * DAY)
    const s = scheduler(store, clock, { intervalMs: 20 })
    await s.start()
    assert.deepEqual(await remains(store, overdue), NONE, 'deleted by the first run, before start() resolved')

    const next = await addKey(store, T0 + DAY)
    await sleep(60)
    assert.deepEqual(await remains(store, next), ALL)
    clock.t = T0 + DAY
    for (let i = 0; i < 100 && (await remains(store, next)).key; i++) await sleep(10)
    assert.deepEqual(await remains(store, next), NONE, 'deleted by a later run of the timer')

    assert.equal(await store.acquireLease(DELETION_LEASE, 'other', clock.now(), 1000), false)
    await s.stop()
    assert.equal(await store.acquireLease(DELETION_LEASE, 'other', clock.now(), 1000), true)
    // Stopped: the timer no longer runs.
    const untouched = await addKey(store, T0)
    await store.releaseLease(DELETION_LEASE, 'other')
    await sleep(60)
    assert.deepEqual(await remains(store, untouched), ALL)
    await store.close()
  })

  it('logs a failing run and keeps going; runOnce reports the failure', async () => {
    const real = await memoryStore()
    const clock = new FakeClock()
    const key = await addKey(real, T0)
    let fail = true
    const store = withOverrides(real, {
      async keysDueForDeletion(now, limit) {
        if (fail) throw new Error('disk on fire')
        return real.keysDueForDeletion(now, limit)
      },
    })
    const s = scheduler(store, clock, { intervalMs: 20 })
    await s.start() // does not throw
    assert.ok(s.logs.some((l) => l.includes('deleting keys due for deletion failed') && l.includes('disk on fire')), s.logs.join('\n'))
    await assert.rejects(s.runOnce(), /disk on fire/)
    fail = false
    for (let i = 0; i < 100 && (await remains(real, key)).key; i++) await sleep(10)
    assert.deepEqual(await remains(real, key), NONE, 'a later run succeeded')
    await s.stop()
    await real.close()
  })

  it('stop() waits for the run in progress', async () => {
    const real = await memoryStore()
    const clock = new FakeClock()
    const key = await addKey(real, T0)
    let release!: () => void
    const gate = new Promise<void>((ok) => (release = ok))
    const store = withOverrides(real, {
      async deleteKey(k) {
        await gate
        return real.deleteKey(k)
      },
    })
    const s = scheduler(store, clock)
    const run = s.runOnce()
    let stopped = false
    const stopping = s.stop().then(() => (stopped = true))
    await sleep(20)
    assert.equal(stopped, false)
    release()
    await stopping
    assert.equal(await run, 1)
    assert.deepEqual(await remains(real, key), NONE)
    assert.equal(await real.acquireLease(DELETION_LEASE, 'other', clock.now(), 1000), true, 'released after the run')
    await real.close()
  })

  it('runs on one scheduler never overlap', async () => {
    const real = await memoryStore()
    const clock = new FakeClock()
    for (let i = 0; i < 5; i++) await addKey(real, T0)
    let active = 0
    let maxActive = 0
    const store = withOverrides(real, {
      async keysDueForDeletion(now, limit) {
        active++
        maxActive = Math.max(maxActive, active)
        await sleep(5)
        active--
        return real.keysDueForDeletion(now, limit)
      },
    })
    const s = scheduler(store, clock)
    const counts = await Promise.all([s.runOnce(), s.runOnce(), s.runOnce()])
    assert.equal(maxActive, 1)
    assert.deepEqual(counts, [5, 0, 0])
    await s.stop()
    await real.close()
  })

  it('refuses nonsense options', () => {
    const clock = new FakeClock()
    const store = {} as Store
    assert.throws(() => new DeletionScheduler({ store, clock, holder: 'x', intervalMs: 0 }), RangeError)
    assert.throws(() => new DeletionScheduler({ store, clock, holder: 'x', batchSize: 1.5 }), RangeError)
  })
})
