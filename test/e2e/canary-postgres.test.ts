import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { CreateKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { CLI, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)

describe('trent admin canary --store on PostgreSQL: serving nodes see the mark through change notifications', { skip: pgSkip() }, () => {
  const data = tempDataDir()
  let pgAdmin: PgAdmin
  let storeUrl: string
  let server: TestServer
  let kms: KMSClient
  let hook: Server
  const alerts: any[] = []

  before(async () => {
    pgAdmin = new PgAdmin(pgUrl())
    storeUrl = await pgAdmin.createDatabase(pgUrl(), 'trent_canary')
    hook = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        alerts.push(JSON.parse(body))
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`
    // A metadata cache that would hold the old record for a minute: only the notification can explain a prompt alert.
    server = await startTestServer(data.dir, {}, ['--store', storeUrl, '--cache-ttl-ms', '60000', '--canary-webhook', hookUrl])
    kms = kmsClient(server.url)
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    hook?.closeAllConnections()
    hook?.close()
    await pgAdmin?.cleanup()
    data.cleanup()
  })

  it('marks and lists a key in the shared database; the next use on the serving node alerts', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    const arn = KeyMetadata!.Arn!
    await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('a') }))
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'canary', 'add', '--key', arn, '--store', storeUrl])
    assert.equal(stdout, `${arn} is a canary\n`)
    assert.equal((await run(process.execPath, [CLI, 'admin', 'canary', 'list', '--store', storeUrl])).stdout, `${arn}\n`)

    const deadline = Date.now() + 5000
    while (alerts.length === 0) {
      assert.ok(Date.now() < deadline, 'no alert within 5 s although the cache TTL is 60 s')
      await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('b') }))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(alerts[0].type, 'canary-key')
    assert.equal(alerts[0].keyArn, arn)
  })

  it('marks an encryption-context pair in the shared database; the serving node alerts on it within seconds', async () => {
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    const seen = alerts.length
    const added = await run(process.execPath, [CLI, 'admin', 'canary', 'add-context', '--context', 'project=atlas-decoy', '--store', storeUrl])
    assert.equal(added.stdout, 'project=atlas-decoy is a canary context\n')
    const deadline = Date.now() + 5000
    while (!alerts.slice(seen).some((a) => a.type === 'canary-context')) {
      assert.ok(Date.now() < deadline, 'no canary-context alert within 5 s')
      await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('c'), EncryptionContext: { project: 'atlas-decoy' } }))
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const alert = alerts.slice(seen).find((a) => a.type === 'canary-context')
    assert.equal(alert.contextKey, 'project')
    assert.equal(alert.contextValue, 'atlas-decoy')
  })
})
