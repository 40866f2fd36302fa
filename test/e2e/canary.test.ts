import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GetKeyPolicyCommand, ListResourceTagsCommand, PutKeyPolicyCommand, TagResourceCommand, UntagResourceCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, kmsClient, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'
import { scrape } from './metrics-scrape.js'

const run = promisify(execFile)
const OTHER_ACCOUNT = '444455556666'

/** A webhook receiver that records alerts; `hang` makes it accept and never answer. */
async function webhookReceiver(options: { hang?: boolean } = {}): Promise<{ url: string; alerts: any[]; close(): void; waitFor(n: number): Promise<void> }> {
  const alerts: any[] = []
  const waiters: Array<() => void> = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      alerts.push(JSON.parse(body))
      for (const w of waiters.splice(0)) w()
      if (!options.hang) res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    alerts,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
    async waitFor(n) {
      const deadline = Date.now() + 10_000
      while (alerts.length < n) {
        assert.ok(Date.now() < deadline, `expected ${n} webhook alerts, got ${alerts.length}: ${JSON.stringify(alerts)}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 200)
        })
      }
    },
  }
}

/** The JSON alert lines the server logged. */
/** The canary alert lines the server logged, once `count` have come through its output pipe (or 5 s have passed). */
async function loggedAlerts(server: TestServer, count: number): Promise<any[]> {
  const alerts = (): any[] => server.output.filter((l) => l.startsWith('{') && l.includes('"canary alert"')).map((l) => JSON.parse(l))
  for (let i = 0; i < 50 && alerts().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return alerts()
}

describe('canaries: tagged keys and canary context values raise alerts (log, metric, webhook)', () => {
  const data = tempDataDir()
  let server: TestServer
  let hook: Awaited<ReturnType<typeof webhookReceiver>>
  let admin: KMSClient
  let other: KMSClient

  before(async () => {
    hook = await webhookReceiver()
    server = await startTestServer(data.dir, { TRENT_CANARY_CONTEXT: 'purpose=tripwire' }, ['--metrics', '--canary-webhook', hook.url, '--canary-context', 'app=honeypot'])
    admin = kmsClient(server.url)
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', OTHER_ACCOUNT, '--data-dir', data.dir])
    other = kmsClient(server.url, {
      accessKeyId: /aws_access_key_id = (\S+)/.exec(stdout)![1]!,
      secretAccessKey: /aws_secret_access_key = (\S+)/.exec(stdout)![1]!,
    })
  })
  after(async () => {
    admin?.destroy()
    other?.destroy()
    await server?.stop()
    hook?.close()
    data.cleanup()
  })

  it('an allowed Encrypt and a denied Decrypt by another principal both alert, without plaintext or ciphertext', async () => {
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Tags: [{ TagKey: 'trent:canary', TagValue: 'payroll-decoy' }] }))
    const keyArn = KeyMetadata!.Arn!
    const plaintext = Buffer.from('canary plaintext 4f1c')
    const enc = await admin.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext }))
    await hook.waitFor(1)
    assert.deepEqual({ ...hook.alerts[0], time: undefined }, {
      source: 'trent',
      type: 'canary-key',
      keyArn,
      time: undefined,
      operation: 'Encrypt',
      principalArn: `arn:aws:iam::${ACCOUNT}:root`,
      sourceIp: hook.alerts[0].sourceIp,
      requestId: enc.$metadata.requestId,
      outcome: 'allowed',
    })
    assert.match(hook.alerts[0].sourceIp, /127\.0\.0\.1/)
    assert.ok(!Number.isNaN(Date.parse(hook.alerts[0].time)))

    await rejectsWithKmsError(other.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob! })), 'AccessDeniedException')
    await hook.waitFor(2)
    assert.equal(hook.alerts[1].type, 'canary-key')
    assert.equal(hook.alerts[1].operation, 'Decrypt')
    assert.equal(hook.alerts[1].outcome, 'denied')
    assert.equal(hook.alerts[1].errorCode, 'AccessDeniedException')
    assert.equal(hook.alerts[1].principalArn, `arn:aws:iam::${OTHER_ACCOUNT}:root`)
    assert.equal(hook.alerts[1].keyArn, keyArn)

    const logged = await loggedAlerts(server, 2)
    assert.equal(logged.length, 2)
    assert.equal(logged[0].level, 'error')
    assert.equal(logged[1].requestId, hook.alerts[1].requestId)
    const everything = server.output.join('\n') + JSON.stringify(hook.alerts)
    assert.ok(!everything.includes(plaintext.toString('base64')) && !everything.includes(plaintext.toString()), 'no plaintext')
    assert.ok(!everything.includes(Buffer.from(enc.CiphertextBlob!).toString('base64')), 'no ciphertext')

    const m = await scrape(`${server.url}/metrics`)
    assert.equal(m.value('trent_canary_alerts_total', { type: 'canary-key', operation: 'Encrypt', outcome: 'allowed' }), 1)
    assert.equal(m.value('trent_canary_alerts_total', { type: 'canary-key', operation: 'Decrypt', outcome: 'denied' }), 1)
    assert.equal(m.value('trent_canary_webhook_deliveries_total'), 2)
    assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.includes(KeyMetadata!.KeyId!))), 'canary key ids stay out of the unauthenticated metrics')
  })

  it('a key becomes a canary when tagged later; ordinary keys and management calls raise nothing', async () => {
    const before = hook.alerts.length
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({}))
    await admin.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId!, KeySpec: 'AES_256' }))
    await admin.send(new TagResourceCommand({ KeyId: KeyMetadata!.KeyId!, Tags: [{ TagKey: 'trent:canary', TagValue: '' }] }))
    assert.equal(hook.alerts.length, before)
    // TagResource through this node refreshes its metadata cache, so the next use alerts.
    const gdk = await admin.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId!, KeySpec: 'AES_256' }))
    await hook.waitFor(before + 1)
    assert.equal(hook.alerts[before].operation, 'GenerateDataKey')
    assert.equal(hook.alerts[before].requestId, gdk.$metadata.requestId)
    assert.ok(!JSON.stringify(hook.alerts).includes(Buffer.from(gdk.Plaintext!).toString('base64')), 'no data key')
  })

  it('a canary context value (flag or TRENT_CANARY_CONTEXT) alerts on an ordinary key', async () => {
    const before = hook.alerts.length
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({}))
    await admin.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('x'), EncryptionContext: { app: 'not-the-canary' } }))
    const enc = await admin.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from('x'), EncryptionContext: { app: 'honeypot', team: 'a' } }))
    await rejectsWithKmsError(admin.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob!, EncryptionContext: { purpose: 'tripwire' } })), 'InvalidCiphertextException')
    await hook.waitFor(before + 2)
    const [first, second] = hook.alerts.slice(before)
    assert.equal(first.type, 'canary-context')
    assert.equal(first.operation, 'Encrypt')
    assert.equal(first.contextKey, 'app')
    assert.equal(first.contextValue, 'honeypot')
    assert.equal(first.keyArn, KeyMetadata!.Arn)
    assert.equal(second.type, 'canary-context')
    assert.equal(second.operation, 'Decrypt')
    assert.equal(second.outcome, 'failed')
    assert.equal(second.contextKey, 'purpose')
    const m = await scrape(`${server.url}/metrics`)
    assert.equal(m.value('trent_canary_alerts_total', { type: 'canary-context', operation: 'Encrypt', outcome: 'allowed' }), 1)
  })
})

describe('trent admin canary add|remove|list', () => {
  const data = tempDataDir()
  let server: TestServer
  let hook: Awaited<ReturnType<typeof webhookReceiver>>
  let admin: KMSClient
  const trentAdmin = (...args: string[]) => run(process.execPath, [CLI, 'admin', 'canary', ...args, '--data-dir', data.dir])

  before(async () => {
    hook = await webhookReceiver()
    // No metadata cache: the command's change is seen by the next request (else within the TTL).
    server = await startTestServer(data.dir, {}, ['--canary-webhook', hook.url, '--cache-ttl-ms', '0'])
    admin = kmsClient(server.url)
  })
  after(async () => {
    admin?.destroy()
    await server?.stop()
    hook?.close()
    data.cleanup()
  })

  it('marks a key by its tag, next to the serving node, and unmarks it', async () => {
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Tags: [{ TagKey: 'owner', TagValue: 'ops' }] }))
    const keyId = KeyMetadata!.KeyId!
    const arn = KeyMetadata!.Arn!
    await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('a') }))
    assert.deepEqual((await trentAdmin('list')).stdout, '')

    assert.equal((await trentAdmin('add', '--key', keyId, '--value', 'decoy-2026')).stdout, `${arn} is a canary\n`)
    assert.equal((await trentAdmin('add', '--key', arn, '--value', 'decoy-2026')).stdout, `${arn} is a canary already\n`)
    assert.equal((await trentAdmin('list')).stdout, `${arn}\n`)
    const { Tags } = await admin.send(new ListResourceTagsCommand({ KeyId: keyId }))
    assert.deepEqual(Tags, [{ TagKey: 'owner', TagValue: 'ops' }, { TagKey: 'trent:canary', TagValue: 'decoy-2026' }])

    const enc = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('b') }))
    await hook.waitFor(1)
    assert.equal(hook.alerts[0].keyArn, arn)
    assert.equal(hook.alerts[0].requestId, enc.$metadata.requestId)

    assert.equal((await trentAdmin('remove', '--key', arn)).stdout, `${arn} is not a canary\n`)
    assert.equal((await trentAdmin('list')).stdout, '')
    await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('c') }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(hook.alerts.length, 1)
    assert.equal((await loggedAlerts(server, 1)).length, 1)
    assert.deepEqual((await admin.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags, [{ TagKey: 'owner', TagValue: 'ops' }])
  })

  it('a key policy can keep the canary tag from being removed or changed through the API (docs/observability.md)', async () => {
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Tags: [{ TagKey: 'trent:canary', TagValue: 'x' }, { TagKey: 'team', TagValue: 'a' }] }))
    const keyId = KeyMetadata!.KeyId!
    const policy = JSON.parse((await admin.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy!)
    policy.Statement.push({
      Sid: 'KeepCanary',
      Effect: 'Deny',
      Principal: '*',
      Action: ['kms:UntagResource', 'kms:TagResource'],
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'trent:canary' } },
    })
    await admin.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: JSON.stringify(policy) }))
    await rejectsWithKmsError(admin.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['trent:canary'] })), 'AccessDeniedException')
    await rejectsWithKmsError(admin.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'trent:canary', TagValue: 'y' }] })), 'AccessDeniedException')
    await admin.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['team'] }))
    assert.deepEqual((await admin.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags, [{ TagKey: 'trent:canary', TagValue: 'x' }])
    // The administrator's command is not subject to key policies.
    assert.equal((await trentAdmin('remove', '--key', keyId)).stdout, `${KeyMetadata!.Arn} is not a canary\n`)
  })

  it('marks an encryption-context pair in the store, which the serving node alerts on within a second, and unmarks it', async () => {
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    const seen = hook.alerts.length
    assert.equal((await trentAdmin('add-context', '--context', 'tenant=decoy-corp')).stdout, 'tenant=decoy-corp is a canary context\n')
    assert.equal((await trentAdmin('add-context', '--context', 'tenant=decoy-corp')).stdout, 'tenant=decoy-corp is a canary context already\n')
    assert.equal((await trentAdmin('list-contexts')).stdout, 'tenant=decoy-corp\n')
    // The node reads the marks every second.
    await new Promise((resolve) => setTimeout(resolve, 1300))
    const enc = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('p'), EncryptionContext: { tenant: 'decoy-corp' } }))
    await hook.waitFor(seen + 1)
    const alert = hook.alerts.at(-1)
    assert.equal(alert.type, 'canary-context')
    assert.equal(alert.contextKey, 'tenant')
    assert.equal(alert.contextValue, 'decoy-corp')
    assert.equal(alert.requestId, enc.$metadata.requestId)

    assert.equal((await trentAdmin('remove-context', '--context', 'tenant=decoy-corp')).stdout, 'tenant=decoy-corp is not a canary context\n')
    assert.equal((await trentAdmin('remove-context', '--context', 'tenant=decoy-corp')).stdout, 'tenant=decoy-corp is not a canary context already\n')
    assert.equal((await trentAdmin('list-contexts')).stdout, '')
    await new Promise((resolve) => setTimeout(resolve, 1300))
    await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('q'), EncryptionContext: { tenant: 'decoy-corp' } }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(hook.alerts.length, seen + 1)
    await assert.rejects(trentAdmin('add-context', '--context', 'novalue'), /needs --context key=value/)
    await assert.rejects(trentAdmin('remove-context'), /needs --context key=value/)
  })

  it('refuses an unknown key, an alias and a missing --key', async () => {
    await assert.rejects(trentAdmin('add', '--key', '1234abcd-12ab-34cd-56ef-1234567890ab'), /no key 1234abcd-12ab-34cd-56ef-1234567890ab/)
    await assert.rejects(trentAdmin('add', '--key', 'alias/foo'), /no key alias\/foo \(give a key id or key ARN\)/)
    await assert.rejects(trentAdmin('remove'), /needs --key/)
  })
})

describe('trent serve refuses bad canary options', () => {
  it('a context without key=value, a webhook that is not http(s), --metrics-host without a port', async () => {
    const data = tempDataDir()
    try {
      const serve = (...args: string[]) => run(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', data.dir, ...args])
      await assert.rejects(serve('--canary-context', 'novalue'), (e: any) => e.code === 2 && /invalid canary context novalue: expected key=value/.test(e.stderr))
      await assert.rejects(serve('--canary-webhook', 'ftp://example.com/x'), (e: any) => e.code === 2 && /invalid canary webhook ftp:\/\/example.com\/x/.test(e.stderr))
      await assert.rejects(serve('--metrics-host', '0.0.0.0'), (e: any) => e.code === 2 && /--metrics-host needs --metrics-port/.test(e.stderr))
    } finally {
      data.cleanup()
    }
  })
})

describe('a hanging canary webhook does not slow requests', () => {
  const data = tempDataDir()
  let server: TestServer
  let hook: Awaited<ReturnType<typeof webhookReceiver>>
  let admin: KMSClient

  before(async () => {
    hook = await webhookReceiver({ hang: true })
    server = await startTestServer(data.dir, { TRENT_CANARY_WEBHOOKS: hook.url }, ['--metrics'])
    admin = kmsClient(server.url)
  })
  after(async () => {
    admin?.destroy()
    const code = await server?.stop()
    assert.equal(code, 0, 'shuts down cleanly with deliveries pending')
    hook?.close()
    data.cleanup()
  })

  it('requests on a canary key complete while every delivery hangs', async () => {
    const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Tags: [{ TagKey: 'trent:canary', TagValue: 'x' }] }))
    let slowest = 0
    for (let i = 0; i < 20; i++) {
      const started = performance.now()
      await admin.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId!, Plaintext: Buffer.from([i]) }))
      slowest = Math.max(slowest, performance.now() - started)
    }
    // A request that waited for the hanging webhook would take at least its 2 s timeout.
    assert.ok(slowest < 1500, `slowest request took ${slowest} ms`)
    await hook.waitFor(4)
    const m = await scrape(`${server.url}/metrics`)
    assert.equal(m.value('trent_canary_alerts_total', { type: 'canary-key', operation: 'Encrypt', outcome: 'allowed' }), 20)
    assert.equal(m.value('trent_canary_webhook_deliveries_total'), 0)
    assert.ok(m.value('trent_canary_webhook_queue_depth') > 0)
    assert.equal((await loggedAlerts(server, 20)).length, 20)
  })
})
