import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RandomPool } from './random-pool.js'

describe('RandomPool', () => {
  it('hands out fresh, distinct arrays of the size asked for, across block refills', () => {
    const pool = new RandomPool(64)
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const b = pool.take(12)
      assert.equal(b.length, 12)
      assert.equal(b.byteOffset, 0)
      assert.equal(b.buffer.byteLength, 12)
      seen.add(Buffer.from(b).toString('hex'))
    }
    assert.equal(seen.size, 200)
  })

  it('wipes what it handed out from its block', () => {
    const pool = new RandomPool(64)
    const a = pool.take(16)
    const b = pool.take(16)
    // A caller zeroising its copy must not be able to see, or be seen by, another caller.
    a.fill(0)
    assert.notDeepEqual([...b], new Array(16).fill(0))
  })

  it('serves large requests straight from the CSPRNG', () => {
    const pool = new RandomPool(64)
    assert.equal(pool.take(1024).length, 1024)
  })
})
