import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isKmsError } from '../core/errors.js'
import { HbkCache } from './hbk-cache.js'

const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0)
const hbk = (v: number): Uint8Array => new Uint8Array(32).fill(v)

function fakeClock(start = 1_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('HBK cache', () => {
  it('returns what it holds', () => {
    const cache = new HbkCache({ maxEntries: 2, ttlMs: 1000, clock: fakeClock() })
    const a = hbk(1)
    cache.set('a', a)
    assert.equal(cache.get('a'), a)
    assert.equal(cache.get('b'), undefined)
  })

  it('evicts the least recently used entry and zeroises it', () => {
    const cache = new HbkCache({ maxEntries: 2, ttlMs: 1000, clock: fakeClock() })
    const a = hbk(1)
    const b = hbk(2)
    const c = hbk(3)
    cache.set('a', a)
    cache.set('b', b)
    cache.get('a')
    cache.set('c', c)
    assert.equal(cache.size, 2)
    assert.equal(cache.get('b'), undefined)
    assert.ok(isZero(b), 'evicted HBK is zeroised')
    assert.ok(!isZero(a) && !isZero(c))
  })

  it('expires entries a TTL after they were stored, even when used, and zeroises them', () => {
    const clock = fakeClock()
    const cache = new HbkCache({ maxEntries: 10, ttlMs: 1000, clock })
    const a = hbk(1)
    cache.set('a', a)
    clock.advance(999)
    assert.equal(cache.get('a'), a)
    clock.advance(1)
    assert.equal(cache.get('a'), undefined)
    assert.ok(isZero(a))
    assert.equal(cache.size, 0)
  })

  it('sweep zeroises expired entries without a lookup', () => {
    const clock = fakeClock()
    const cache = new HbkCache({ maxEntries: 10, ttlMs: 1000, clock })
    const a = hbk(1)
    cache.set('a', a)
    clock.advance(500)
    const b = hbk(2)
    cache.set('b', b)
    clock.advance(600)
    cache.sweep()
    assert.ok(isZero(a))
    assert.ok(!isZero(b))
    assert.equal(cache.size, 1)
  })

  it('zeroises a replaced entry and everything on clear', () => {
    const cache = new HbkCache({ maxEntries: 10, ttlMs: 1000, clock: fakeClock() })
    const a1 = hbk(1)
    const a2 = hbk(2)
    const b = hbk(3)
    cache.set('a', a1)
    cache.set('a', a2)
    assert.ok(isZero(a1))
    cache.set('b', b)
    cache.clear()
    assert.ok(isZero(a2) && isZero(b))
    assert.equal(cache.size, 0)
  })

  it('keeps nothing when its size is 0, leaving ownership with the caller', () => {
    const cache = new HbkCache({ maxEntries: 0, ttlMs: 1000, clock: fakeClock() })
    const a = hbk(1)
    cache.set('a', a)
    assert.equal(cache.enabled, false)
    assert.equal(cache.get('a'), undefined)
    assert.ok(!isZero(a))
  })

  it('Precondition: The HBK cache size is a whole number of entries, zero or more.', () => {
    for (const maxEntries of [-1, 1.5, Number.NaN]) {
      assert.throws(() => new HbkCache({ maxEntries, ttlMs: 1, clock: fakeClock() }), internal)
    }
  })

  it('Precondition: The HBK cache time-to-live is a positive number of milliseconds.', () => {
    for (const ttlMs of [0, -5, Number.NaN]) {
      assert.throws(() => new HbkCache({ maxEntries: 1, ttlMs, clock: fakeClock() }), internal)
    }
  })
})
