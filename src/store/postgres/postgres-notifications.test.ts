import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StoreChange } from '../store.js'
import type { PgListenClient, PgQueryResult } from './postgres-config.js'
import { CHANGE_CHANNEL, PostgresChangeFeed, parseChange } from './postgres-notifications.js'

/** A LISTEN client without a server: connect() fails while `down` is set; the test drives its events. */
class FakeClient extends EventEmitter implements PgListenClient {
  readonly queries: string[] = []
  ended = false

  readonly server: { down: boolean; connects: number[] }

  constructor(server: { down: boolean; connects: number[] }) {
    super()
    this.server = server
  }

  async connect(): Promise<void> {
    this.server.connects.push(Date.now())
    if (this.server.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
  }

  async query(text: string): Promise<PgQueryResult> {
    this.queries.push(text)
    return { rows: /current_schema/.test(text) ? [{ schema: 'public' }] : [], rowCount: null }
  }

  async end(): Promise<void> {
    this.ended = true
  }

  notify(payload: string): void {
    this.emit('notification', { channel: CHANGE_CHANNEL, payload })
  }
}

function setup(down = false) {
  const server = { down, connects: [] as number[] }
  const clients: FakeClient[] = []
  const changes: StoreChange[] = []
  const log: string[] = []
  const feed = new PostgresChangeFeed({
    connect: () => {
      const c = new FakeClient(server)
      clients.push(c)
      return c
    },
    onChange: (c) => changes.push(c),
    log: (m) => log.push(m),
    minDelayMs: 10,
    maxDelayMs: 40,
  })
  return { server, clients, changes, log, feed }
}

async function until(check: () => boolean, message: string): Promise<void> {
  for (const deadline = Date.now() + 2000; !check(); await sleep(2)) if (Date.now() > deadline) assert.fail(message)
}

describe('parseChange', () => {
  it('reads key and alias reports of its own schema only', () => {
    assert.deepEqual(parseChange('{"s":"public","k":"1234"}', 'public'), { keyId: '1234' })
    assert.deepEqual(parseChange('{"s":"public","a":["111122223333","eu-west-1","alias/x"]}', 'public'), {
      alias: { accountId: '111122223333', region: 'eu-west-1', aliasName: 'alias/x' },
    })
    assert.equal(parseChange('{"s":"other","k":"1234"}', 'public'), undefined)
  })

  it('reads access key, user and role reports', () => {
    assert.deepEqual(parseChange('{"s":"public","c":"AKIAEXAMPLE"}', 'public'), { accessKeyId: 'AKIAEXAMPLE' })
    assert.deepEqual(parseChange('{"s":"public","u":["111122223333","app"]}', 'public'), { user: { accountId: '111122223333', userName: 'app' } })
    assert.deepEqual(parseChange('{"s":"public","r":["111122223333","ops"]}', 'public'), { role: { accountId: '111122223333', roleName: 'ops' } })
    assert.equal(parseChange('{"s":"other","c":"AKIAEXAMPLE"}', 'public'), undefined)
  })

  it('ignores malformed payloads', () => {
    for (const p of [undefined, '', 'not json', 'null', '[]', '{"s":"public"}', '{"s":"public","k":5}', '{"s":"public","a":["x","y"]}', '{"s":"public","a":[1,2,3]}', '{"s":"public","c":1}', '{"s":"public","u":["x"]}', '{"s":"public","r":[1,2]}']) {
      assert.equal(parseChange(p, 'public'), undefined, String(p))
    }
  })
})

describe('PostgresChangeFeed', () => {
  it('LISTENs, reports everything once connected, then delivers reports of its schema', async () => {
    const { clients, changes, feed } = setup()
    feed.start()
    await feed.ready()
    assert.equal(feed.listening, true)
    assert.deepEqual(clients[0]!.queries.at(-1), `LISTEN ${CHANGE_CHANNEL}`)
    assert.deepEqual(changes.splice(0), [{ everything: true }])
    clients[0]!.notify('{"s":"public","k":"k1"}')
    clients[0]!.notify('{"s":"elsewhere","k":"k2"}')
    clients[0]!.emit('notification', { channel: 'another_channel', payload: '{"s":"public","k":"k3"}' })
    assert.deepEqual(changes, [{ keyId: 'k1' }])
    await feed.stop()
    assert.equal(clients[0]!.ended, true)
  })

  it('handles the client\'s error event: reconnects, reports everything again, and logs the outage once each way', async () => {
    const { server, clients, changes, log, feed } = setup()
    feed.start()
    await feed.ready()
    changes.splice(0)
    server.down = true
    clients[0]!.emit('error', new Error('terminating connection due to administrator command'))
    clients[0]!.emit('end')
    assert.equal(feed.listening, false)
    // Retries with growing delays while the server is down (10, 20, 40, 40 ms, with jitter).
    await until(() => server.connects.length >= 5, 'no retries')
    assert.equal(log.length, 1, log.join('\n'))
    assert.match(log[0]!, /not listening for other nodes' changes \(terminating connection/)
    server.down = false
    await until(() => feed.listening, 'did not reconnect')
    assert.deepEqual(changes, [{ everything: true }])
    assert.equal(log.length, 2)
    assert.match(log[1]!, /listening for other nodes' changes again/)
    // Reports on a dead client are ignored; the new one delivers.
    clients[0]!.notify('{"s":"public","k":"old"}')
    clients.at(-1)!.notify('{"s":"public","k":"new"}')
    assert.deepEqual(changes, [{ everything: true }, { keyId: 'new' }])
    await feed.stop()
  })

  it('ready() settles after a failed first attempt, and stop() ends the retries', async () => {
    const { server, log, feed } = setup(true)
    feed.start()
    await feed.ready()
    assert.equal(feed.listening, false)
    assert.match(log[0]!, /ECONNREFUSED/)
    await feed.stop()
    const attempts = server.connects.length
    await sleep(100)
    assert.equal(server.connects.length, attempts)
  })

  it('survives a listener that throws', async () => {
    const log: string[] = []
    const clients: FakeClient[] = []
    const feed = new PostgresChangeFeed({
      connect: () => {
        const c = new FakeClient({ down: false, connects: [] })
        clients.push(c)
        return c
      },
      onChange: () => {
        throw new Error('boom')
      },
      log: (m) => log.push(m),
    })
    feed.start()
    await feed.ready()
    clients[0]!.notify('{"s":"public","k":"k1"}')
    assert.ok(log.some((m) => /listener failed: boom/.test(m)), log.join('\n'))
    assert.equal(feed.listening, true)
    await feed.stop()
  })
})
