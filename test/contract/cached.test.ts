import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { systemClock } from '../../src/core/clock.js'
import { CachedStore } from '../../src/store/cached-store.js'
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js'
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
