import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms'
import { kmsClient, rawRequest, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'
import { scrape } from './metrics-scrape.js'

describe('GET /metrics (--metrics)', () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient

  before(async () => {
    server = await startTestServer(data.dir, {}, ['--metrics'])
    kms = kmsClient(server.url)
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
  })

  it('counts requests per operation and outcome exactly, with latency histograms', async () => {
    const before = await scrape(`${server.url}/metrics`)
    assert.equal(before.types.get('trent_requests_total'), 'counter')
    assert.equal(before.types.get('trent_request_duration_seconds'), 'histogram')
    assert.equal(before.value('trent_hsm_up'), 1)
    assert.equal(before.types.get('trent_hsm_respawns_total'), 'counter')
    assert.equal(before.types.get('trent_audit_queue_depth'), 'gauge')
    assert.equal(before.value('trent_audit_queue_depth'), 0)

    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const keyId = KeyMetadata!.KeyId!
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array([i]) }))
    await rejectsWithKmsError(kms.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(40) })), 'InvalidCiphertextException')
    await rejectsWithKmsError(kms.send(new EncryptCommand({ KeyId: 'alias/missing', Plaintext: new Uint8Array([1]) })), 'NotFoundException')
    const unsigned = await rawRequest(server.url, { target: 'Encrypt', sign: false, body: '{}' })
    assert.equal(unsigned.status, 400)
    const bogus = await rawRequest(server.url, { target: 'NoSuchOperation', body: '{}' })
    assert.equal(bogus.body.__type, 'UnknownOperationException')

    const after = await scrape(`${server.url}/metrics`)
    const delta = (labels: Record<string, string>): number => after.value('trent_requests_total', labels) - before.value('trent_requests_total', labels)
    assert.equal(delta({ operation: 'CreateKey', outcome: 'ok', error_code: '' }), 1)
    assert.equal(delta({ operation: 'Encrypt', outcome: 'ok', error_code: '' }), 3)
    assert.equal(delta({ operation: 'Decrypt', outcome: 'error', error_code: 'InvalidCiphertextException' }), 1)
    assert.equal(delta({ operation: 'Encrypt', outcome: 'error', error_code: 'NotFoundException' }), 1)
    assert.equal(delta({ operation: 'Encrypt', outcome: 'error', error_code: unsigned.body.__type }), 1)
    assert.equal(delta({ operation: 'Unknown', outcome: 'error', error_code: 'UnknownOperationException' }), 1)
    // Scrapes and health checks are not API requests.
    assert.equal(after.samples.filter((s) => s.name === 'trent_requests_total').reduce((n, s) => n + s.value, 0) - before.samples.filter((s) => s.name === 'trent_requests_total').reduce((n, s) => n + s.value, 0), 8)

    // Histogram: one series per operation, buckets cumulative and ending in +Inf = count.
    const buckets = after.samples.filter((s) => s.name === 'trent_request_duration_seconds_bucket' && s.labels['operation'] === 'Encrypt')
    assert.ok(buckets.length > 5)
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative')
      assert.ok(Number(buckets[i]!.labels['le']) > Number(buckets[i - 1]!.labels['le']) || buckets[i]!.labels['le'] === '+Inf')
    }
    assert.equal(buckets.at(-1)!.labels['le'], '+Inf')
    const count = after.value('trent_request_duration_seconds_count', { operation: 'Encrypt' })
    assert.equal(buckets.at(-1)!.value, count)
    assert.equal(count - before.value('trent_request_duration_seconds_count', { operation: 'Encrypt' }), 5)
    assert.ok(after.value('trent_request_duration_seconds_sum', { operation: 'Encrypt' }) > 0)

    // No key id appears in any label (only canary alerts could name keys, and they do not either).
    assert.ok(!after.samples.some((s) => Object.values(s.labels).some((v) => v.includes(keyId))))
  })
})

describe('HSM health on /metrics', () => {
  const data = tempDataDir()
  let server: TestServer

  after(async () => {
    await server?.stop()
    data.cleanup()
  })

  it('counts a respawn after the HSM process is killed, and reports it up again', async () => {
    server = await startTestServer(data.dir, {}, ['--metrics'])
    const before = await scrape(`${server.url}/metrics`)
    assert.equal(before.value('trent_hsm_up'), 1)
    assert.equal(before.value('trent_hsm_respawns_total'), 0)
    // The serve process's own HSM child, by its pid.
    const hsm = execFileSync('pgrep', ['-P', String(server.process.pid), '-f', 'hsm --stdio'], { encoding: 'utf8' }).trim()
    assert.match(hsm, /^\d+$/)
    process.kill(Number(hsm), 'SIGKILL')
    const deadline = Date.now() + 10_000
    for (;;) {
      const m = await scrape(`${server.url}/metrics`)
      if (m.value('trent_hsm_respawns_total') === 1 && m.value('trent_hsm_up') === 1) break
      assert.ok(Date.now() < deadline, 'the HSM was not respawned within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
})

async function assertNoMetrics(url: string): Promise<void> {
  const res = await fetch(`${url}/metrics`)
  assert.equal(res.status, 400)
  assert.equal(((await res.json()) as { __type: string }).__type, 'UnknownOperationException')
}

describe('metrics off by default, or on a listener of their own (--metrics-port)', () => {
  const data = tempDataDir()
  let server: TestServer

  after(async () => {
    await server?.stop()
    data.cleanup()
  })

  it('serves /metrics only on the metrics port', async () => {
    server = await startTestServer(data.dir, {}, ['--metrics-port', '0'])
    const line = server.output.find((l) => l.includes('Prometheus metrics on'))
    const metricsUrl = /on (http:\/\/\S+)/.exec(line ?? '')?.[1]
    assert.ok(metricsUrl, server.output.join('\n'))
    assert.notEqual(new URL(metricsUrl).port, new URL(server.url).port)
    const m = await scrape(metricsUrl)
    assert.equal(m.value('trent_hsm_up'), 1)
    await assertNoMetrics(server.url)
  })

  it('answers GET /metrics like any unknown request without --metrics', async () => {
    const plain = tempDataDir()
    const other = await startTestServer(plain.dir)
    try {
      await assertNoMetrics(other.url)
      assert.ok(!other.output.some((l) => l.includes('Prometheus metrics')))
    } finally {
      await other.stop()
      plain.cleanup()
    }
  })
})
