import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { WebhookSender } from './webhooks.js'

/** A local receiver whose answer to each POST is decided by `reply`. */
async function receiver(reply: (n: number, req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; server: Server; bodies: string[] }> {
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      bodies.push(body)
      reply(bodies.length, req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, bodies }
}

describe('WebhookSender', () => {
  const servers: Server[] = []
  after(() => {
    for (const s of servers) s.closeAllConnections(), s.close()
  })

  it('posts JSON and retries a failing receiver with backoff until it answers 2xx', async () => {
    const r = await receiver((n, req, res) => {
      assert.equal(req.method, 'POST')
      assert.equal(req.headers['content-type'], 'application/json')
      res.writeHead(n < 3 ? 503 : 204).end()
    })
    servers.push(r.server)
    const results: string[] = []
    const sender = new WebhookSender({ urls: [r.url], backoffMs: 10, attempts: 4, onResult: (x) => results.push(x) })
    sender.send({ type: 'canary-key', n: 1 })
    assert.equal(sender.queued, 1)
    await sender.drained()
    assert.deepEqual(results, ['delivered'])
    assert.equal(r.bodies.length, 3)
    assert.deepEqual(r.bodies.map((b) => JSON.parse(b)), [1, 2, 3].map(() => ({ type: 'canary-key', n: 1 })))
    sender.close()
  })

  it('gives up after the last attempt against a receiver that never answers, each attempt timed out', async () => {
    const r = await receiver(() => {
      // never answers
    })
    servers.push(r.server)
    const results: string[] = []
    const logs: string[] = []
    const sender = new WebhookSender({ urls: [`${r.url}?token=secret`], timeoutMs: 100, backoffMs: 10, attempts: 2, onResult: (x) => results.push(x), log: (m) => logs.push(m) })
    const started = performance.now()
    sender.send({ a: 1 })
    assert.ok(performance.now() - started < 50, 'send returns at once')
    await sender.drained()
    assert.deepEqual(results, ['failed'])
    assert.equal(r.bodies.length, 2)
    assert.match(logs[0]!, /failed after 2 attempts: no answer within 100 ms/)
    assert.doesNotMatch(logs[0]!, /secret/, 'the query (a token) is not logged')
    sender.close()
  })

  it('drops and counts deliveries beyond the bounded queue', async () => {
    const r = await receiver(() => {
      // hangs, so the queue fills
    })
    servers.push(r.server)
    const results: string[] = []
    const sender = new WebhookSender({ urls: [r.url], maxQueued: 3, concurrency: 1, timeoutMs: 5000, onResult: (x) => results.push(x) })
    for (let i = 0; i < 10; i++) sender.send({ i })
    assert.equal(sender.queued, 3)
    assert.deepEqual(results, Array(7).fill('dropped'))
    sender.close()
    assert.equal(sender.queued, 0)
    await sender.drained()
  })

  it('does not follow redirects', async () => {
    const target = await receiver((_n, _req, res) => res.writeHead(204).end())
    const r = await receiver((_n, _req, res) => res.writeHead(307, { location: target.url }).end())
    servers.push(r.server, target.server)
    const results: string[] = []
    const sender = new WebhookSender({ urls: [r.url], attempts: 1, onResult: (x) => results.push(x) })
    sender.send({})
    await sender.drained()
    assert.deepEqual(results, ['failed'])
    assert.equal(target.bodies.length, 0)
  })

  it('never throws for an unreachable receiver', async () => {
    const results: string[] = []
    const sender = new WebhookSender({ urls: ['http://127.0.0.1:1/'], attempts: 2, backoffMs: 5, onResult: (x) => results.push(x) })
    sender.send({})
    await sender.drained()
    assert.deepEqual(results, ['failed'])
  })

  it('refuses a URL that is not http(s)', () => {
    assert.throws(() => new WebhookSender({ urls: ['file:///etc/passwd'] }), /expected an http/)
  })
})
