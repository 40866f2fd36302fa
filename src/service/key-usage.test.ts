import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { KeyUsageRecord, Store } from '../store/store.js'
import { KeyUsageTracker } from './key-usage.js'

/** Just the store methods the tracker uses, counting writes. */
function fakeStore(): Store & { writes: KeyUsageRecord[][]; fail: boolean } {
  const stored = new Map<string, KeyUsageRecord>()
  const store = {
    writes: [] as KeyUsageRecord[][],
    fail: false,
    async recordKeyUsage(usages: readonly KeyUsageRecord[]) {
      if (store.fail) throw new Error('store down')
      store.writes.push([...usages])
      for (const u of usages) if ((stored.get(u.keyId)?.timestamp ?? -1) <= u.timestamp) stored.set(u.keyId, u)
    },
    async getKeyLastUsage(keyId: string) {
      return stored.get(keyId)
    },
  }
  return store as unknown as Store & { writes: KeyUsageRecord[][]; fail: boolean }
}

const use = (keyId: string, timestamp: number): KeyUsageRecord => ({ keyId, operation: 'Encrypt', timestamp, eventId: `e${timestamp}`, requestId: `r${timestamp}` })

describe('KeyUsageTracker', () => {
  it('coalesces many uses into one store write per key per flush, keeping the newest', async () => {
    const store = fakeStore()
    const tracker = new KeyUsageTracker(store, { flushMs: 50 })
    for (let t = 1; t <= 1000; t++) tracker.note(use(t % 2 ? 'a' : 'b', t))
    tracker.note(use('a', 5)) // an older use arriving late changes nothing
    assert.deepEqual(await tracker.lastUsage('a'), use('a', 999))
    await new Promise((r) => setTimeout(r, 120))
    assert.equal(store.writes.length, 1)
    assert.deepEqual(store.writes[0], [use('a', 999), use('b', 1000)])
    assert.deepEqual(await tracker.lastUsage('b'), use('b', 1000))
  })

  it('keeps uses whose write failed and writes them at the next flush', async () => {
    const store = fakeStore()
    const tracker = new KeyUsageTracker(store, { flushMs: 10_000, log: () => {} })
    tracker.note(use('a', 1))
    store.fail = true
    await tracker.flush()
    store.fail = false
    tracker.note(use('b', 2))
    await tracker.flush()
    assert.equal(store.writes.length, 1)
    assert.deepEqual(store.writes[0]!.sort((x, y) => x.timestamp - y.timestamp), [use('a', 1), use('b', 2)])
  })
})
