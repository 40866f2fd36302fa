import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CanaryContextRecord } from '../../store/store.js'
import type { CanaryContext } from './canary.js'
import { followCanaryContexts } from './canary-admin.js'

const pair = (key: string, value: string): CanaryContextRecord => ({ key, value, createdAt: 1 })
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (up to 5 s, so a loaded machine does not fail it) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !done(); await tick(10)) assert.ok(Date.now() < deadline, 'timed out')
}

describe('followCanaryContexts', () => {
  it('reads the marked pairs before serving, follows changes, and keeps the last ones read while the store fails', async () => {
    let stored: CanaryContextRecord[] | Error = [pair('purpose', 'tripwire')]
    const store = { listCanaryContexts: async () => (stored instanceof Error ? Promise.reject(stored) : stored) }
    const seen: Array<readonly CanaryContext[]> = []
    const logs: string[] = []
    const follower = await followCanaryContexts(store, { setStoredCanaryContexts: (p) => seen.push(p) }, 20, (m) => logs.push(m))
    try {
      assert.deepEqual(seen[0], [pair('purpose', 'tripwire')])
      stored = [pair('app', 'honeypot')]
      await until(() => seen.at(-1)?.[0]?.key === 'app')
      stored = new Error('connection refused')
      await until(() => logs.length > 0)
      const before = seen.length
      await tick(100)
      assert.equal(seen.length, before, 'a failed read replaced the pairs')
      assert.equal(logs.length, 1, 'an outage is logged once')
      assert.match(logs[0]!, /reading the canary contexts failed \(keeping the last ones read\): connection refused/)
      stored = []
      await until(() => seen.at(-1)?.length === 0)
    } finally {
      follower.stop()
    }
  })
})
