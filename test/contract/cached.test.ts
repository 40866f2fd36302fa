import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { systemClock } from '../../src/core/clock.js'
import { CachedStore } from '../../src/store/cached-store.js'
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js'
import type { KeyRecord, Store, StoreChangeListener } from '../../src/store/store.js'
import { sampleKey, storeContract } from './store-contract.js'

// Through one connection the cache must be invisible: every contract case holds with a long TTL.
storeContract('sqlite :memory: behind CachedStore', async () => new CachedStore(new SqliteStore(new Database(':memory:')), { clock: systemClock, ttlMs: 60_000 }))

describe('CachedStore', () => {
  async function setup() {
    const clock = { t: 1_000_000, now() { return this.t } }
    const backend = new SqliteStore(new Database(':memory:'))
    await backend.migrate()
    let reads = 0
    const counting = new Proxy(backend, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver)
        if (prop === 'getKey' || prop === 'getKeyMaterial' || prop === 'getAliasTarget') return (...a: unknown[]) => (reads++, (v as (...x: unknown[]) => unknown).apply(target, a))
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const cached = new CachedStore(counting, { clock, ttlMs: 1000 })
    const key = sampleKey()
    await backend.createKey(key, { keyId: key.keyId, keyMaterialId: 'ab'.repeat(32), ekt: new Uint8Array([1, 2, 3]), createdAt: 1 })
    return { clock, backend, cached, key, reads: () => reads }
  }

  it('serves repeated key and material reads from memory until the TTL ends', async () => {
    const { clock, cached, key, reads } = await setup()
    await cached.getKey(key.keyId)
    await cached.getKey(key.keyId)
    await cached.getKeyMaterial(key.keyId, 'ab'.repeat(32))
    await cached.getKeyMaterial(key.keyId, 'ab'.repeat(32))
    assert.equal(reads(), 2)
    clock.t += 1000
    await cached.getKey(key.keyId)
    assert.equal(reads(), 3)
  })

  it('sees a change made by another node once the TTL ends, and its own changes at once', async () => {
    const { clock, backend, cached, key } = await setup()
    await cached.getKey(key.keyId)
    await backend.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Enabled', 'within the TTL the old record may be served')
    clock.t += 1000
    const fresh = await cached.getKey(key.keyId)
    assert.equal(fresh?.keyState, 'Disabled')
    await cached.updateKey({ ...fresh!, keyState: 'Enabled', version: fresh!.version + 1 })
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Enabled')
  })

  it('does not cache unknown keys, and forgets a deleted key with its material and aliases', async () => {
    const { cached, key, reads } = await setup()
    assert.equal(await cached.getKey('00000000-0000-4000-8000-000000000000'), undefined)
    assert.equal(await cached.getKey('00000000-0000-4000-8000-000000000000'), undefined)
    assert.equal(reads(), 2)
    await cached.createAlias({ accountId: key.accountId, region: key.region, aliasName: 'alias/a', targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 })
    assert.equal(await cached.getAliasTarget(key.accountId, key.region, 'alias/a'), key.keyId)
    await cached.getKeyMaterial(key.keyId, 'ab'.repeat(32))
    const pending = { ...key, keyState: 'PendingDeletion' as const, deletionDate: 5, version: key.version + 1 }
    await cached.updateKey(pending)
    assert.equal(await cached.deleteKey(pending), true)
    assert.equal(await cached.getKey(key.keyId), undefined)
    assert.equal(await cached.getKeyMaterial(key.keyId, 'ab'.repeat(32)), undefined)
    assert.equal(await cached.getAliasTarget(key.accountId, key.region, 'alias/a'), undefined)
  })

  it('hands out frozen records so nobody edits the cache in place', async () => {
    const { cached, key } = await setup()
    const k = await cached.getKey(key.keyId)
    assert.ok(Object.isFrozen(k))
  })
})

/**
 * A SQLite store dressed as a shared one: it offers subscribe(), and the test reports changes "made
 * by another node" by hand with report(). getKey can be held (to race a read against a report).
 */
class FakeSharedStore extends SqliteStore {
  readonly listeners = new Set<StoreChangeListener>()
  keyReads = 0
  hold: Promise<void> | undefined

  constructor() {
    super(new Database(':memory:'))
  }

  subscribe(listener: StoreChangeListener): () => void {
    const entry: StoreChangeListener = (c) => listener(c)
    this.listeners.add(entry)
    return () => this.listeners.delete(entry)
  }

  report(change: Parameters<StoreChangeListener>[0]): void {
    for (const l of this.listeners) l(change)
  }

  override async getKey(keyId: string): Promise<KeyRecord | undefined> {
    this.keyReads++
    const key = await super.getKey(keyId)
    await this.hold
    return key
  }
}

describe('CachedStore with a backend that reports changes (subscribe)', () => {
  const MATERIAL = 'ab'.repeat(32)

  async function setup() {
    const clock = { t: 1_000_000, now() { return this.t } }
    const backend = new FakeSharedStore()
    await backend.migrate()
    // A long TTL: only a report can make the cache drop anything in these tests.
    const cached = new CachedStore(backend, { clock, ttlMs: 3_600_000 })
    const key = sampleKey()
    await backend.createKey(key, { keyId: key.keyId, keyMaterialId: MATERIAL, ekt: new Uint8Array([1, 2, 3]), createdAt: 1 })
    const other = sampleKey()
    await backend.createKey(other)
    const alias = { accountId: key.accountId, region: key.region, aliasName: 'alias/a' }
    await backend.createAlias({ ...alias, targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 })
    const otherAlias = { ...alias, aliasName: 'alias/other' }
    await backend.createAlias({ ...otherAlias, targetKeyId: other.keyId, creationDate: 1, lastUpdatedDate: 1 })
    return { clock, backend, cached, key, other, alias, otherAlias }
  }

  it('subscribes once when constructed, and unsubscribes on close', async () => {
    const { backend, cached } = await setup()
    assert.equal(backend.listeners.size, 1)
    await cached.close()
    assert.equal(backend.listeners.size, 0)
  })

  it('drops a reported key with its material and the aliases naming it, and nothing else', async () => {
    const { backend, cached, key, other, alias, otherAlias } = await setup()
    await cached.getKey(key.keyId)
    await cached.getKey(other.keyId)
    await cached.getKeyMaterial(key.keyId, MATERIAL)
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), key.keyId)
    assert.equal(await cached.getAliasTarget(otherAlias.accountId, otherAlias.region, otherAlias.aliasName), other.keyId)

    // "Another node" disables the key, deletes its material and moves its alias; nothing reported yet.
    await backend.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    await backend.updateAlias(alias.accountId, alias.region, alias.aliasName, other.keyId, 2)
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Enabled', 'served from memory until reported')
    const reads = backend.keyReads
    backend.report({ keyId: key.keyId })
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Disabled')
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), other.keyId)
    assert.equal(backend.keyReads, reads + 1)
    // The other key and alias stay cached.
    await cached.getKey(other.keyId)
    assert.equal(backend.keyReads, reads + 1)
  })

  it('drops a reported alias', async () => {
    const { backend, cached, key, other, alias } = await setup()
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), key.keyId)
    await backend.updateAlias(alias.accountId, alias.region, alias.aliasName, other.keyId, 2)
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), key.keyId)
    backend.report({ alias })
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), other.keyId)
    await backend.deleteAlias(alias.accountId, alias.region, alias.aliasName)
    backend.report({ alias: { ...alias } })
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), undefined)
  })

  it('drops everything on { everything: true } (reports may have been missed)', async () => {
    const { backend, cached, key, other, alias } = await setup()
    await cached.getKey(key.keyId)
    await cached.getKey(other.keyId)
    await cached.getKeyMaterial(key.keyId, MATERIAL)
    await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName)
    await backend.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    await backend.updateAlias(alias.accountId, alias.region, alias.aliasName, other.keyId, 2)
    const reads = backend.keyReads
    backend.report({ everything: true })
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Disabled')
    await cached.getKey(other.keyId)
    assert.equal(backend.keyReads, reads + 2)
    assert.equal(await cached.getAliasTarget(alias.accountId, alias.region, alias.aliasName), other.keyId)
  })

  it('does not cache a read that was in flight when a change was reported', async () => {
    const { backend, cached, key } = await setup()
    let release!: () => void
    backend.hold = new Promise((resolve) => (release = resolve))
    // The read fetches the Enabled record, then "another node" disables the key and reports it
    // before the read returns: what it read may be stale, so it must not stay in the cache.
    const reading = cached.getKey(key.keyId)
    await new Promise((resolve) => setImmediate(resolve))
    await backend.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    backend.report({ keyId: key.keyId })
    release()
    backend.hold = undefined
    assert.equal((await reading)?.keyState, 'Enabled', 'the racing read itself returns what it read')
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Disabled')
  })

  it('does not cache a read that was in flight during its own write either', async () => {
    const { backend, cached, key } = await setup()
    let release!: () => void
    backend.hold = new Promise((resolve) => (release = resolve))
    const reading = cached.getKey(key.keyId)
    await new Promise((resolve) => setImmediate(resolve))
    backend.hold = undefined
    await cached.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    release()
    assert.equal((await reading)?.keyState, 'Enabled')
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Disabled')
  })

  it('still expires entries after the TTL when no report comes', async () => {
    const { clock, backend, cached, key } = await setup()
    await cached.getKey(key.keyId)
    await backend.updateKey({ ...key, keyState: 'Disabled', version: key.version + 1 })
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Enabled')
    clock.t += 3_600_000
    assert.equal((await cached.getKey(key.keyId))?.keyState, 'Disabled')
  })

  it('leaves a backend without subscribe (SQLite) to the TTL, and caches nothing with TTL 0', async () => {
    const sqlite: Store = new SqliteStore(new Database(':memory:'))
    assert.equal(sqlite.subscribe, undefined)
    const clock = { t: 5, now() { return this.t } }
    const backend = new FakeSharedStore()
    await backend.migrate()
    const key = sampleKey()
    await backend.createKey(key)
    const uncached = new CachedStore(backend, { clock, ttlMs: 0 })
    await uncached.getKey(key.keyId)
    await uncached.getKey(key.keyId)
    assert.equal(backend.keyReads, 2)
    assert.throws(() => new CachedStore(backend, { clock, ttlMs: -1 }), RangeError)
  })
})
