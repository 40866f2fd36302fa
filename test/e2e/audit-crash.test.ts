import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms'
import { CLI, kmsClient, segmentLines, startTestServer, tempDataDir } from './harness.js'

const run = promisify(execFile)

function requestIds(dataDir: string): Set<string> {
  const dir = join(dataDir, 'audit')
  const ids = new Set<string>()
  for (const name of readdirSync(dir).filter((n) => n.startsWith('trail-'))) {
    for (const line of segmentLines(join(dir, name))) {
      if (line) ids.add((JSON.parse(line) as { event: { requestID: string } }).event.requestID)
    }
  }
  return ids
}

describe('audit trail across a crash', () => {
  const data = tempDataDir()
  after(() => data.cleanup())

  it('SIGKILL under load loses no acknowledged record, and the restarted trail verifies', async () => {
    const server = await startTestServer(data.dir)
    const kms = kmsClient(server.url)
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    const acknowledged: string[] = []
    let stop = false
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const out = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('crash test') }))
          acknowledged.push(out.$metadata.requestId!)
        } catch {
          return // the server is gone
        }
      }
    }
    const workers = Array.from({ length: 16 }, worker)
    await new Promise((r) => setTimeout(r, 1500))
    server.process.kill('SIGKILL')
    stop = true
    await Promise.all(workers)
    await server.stop()
    assert.ok(acknowledged.length > 50, `only ${acknowledged.length} requests before the crash`)

    const onDisk = requestIds(data.dir)
    const lost = acknowledged.filter((id) => !onDisk.has(id))
    assert.deepEqual(lost, [])

    // Before restart: everything after the first digest is chained but unsealed.
    const unsealed = await run(process.execPath, [CLI, 'audit', 'verify', '--data-dir', data.dir])
    assert.match(unsealed.stdout, /newest records are chained but not yet sealed/)
    // The restart cuts a torn record off and seals the rest.
    const again = await startTestServer(data.dir)
    await again.stop()
    const sealed = await run(process.execPath, [CLI, 'audit', 'verify', '--data-dir', data.dir])
    assert.match(sealed.stdout, /audit trail verified: \d+ records, \d+ signed digests\n/)
    for (const id of acknowledged) assert.ok(requestIds(data.dir).has(id))
  })

  it('--audit-digest-interval seals digests on schedule, empty ones too, and the chain verifies', async () => {
    const fresh = tempDataDir()
    try {
      const server = await startTestServer(fresh.dir, {}, ['--audit-digest-interval', '0.5'])
      const kms = kmsClient(server.url)
      await kms.send(new CreateKeyCommand({}))
      await new Promise((r) => setTimeout(r, 1800))
      const digests = readdirSync(join(fresh.dir, 'audit')).filter((n) => /^digest-\d+\.json$/.test(n))
      assert.ok(digests.length >= 3, digests.join(' '))
      kms.destroy()
      assert.equal(await server.stop(), 0)
      const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', '--data-dir', fresh.dir])
      assert.match(stdout, /audit trail verified: 1 records, \d+ signed digests\n/)
      await assert.rejects(run(process.execPath, [CLI, 'serve', '--data-dir', fresh.dir, '--audit-digest-interval', '0']), /invalid --audit-digest-interval/)
    } finally {
      fresh.cleanup()
    }
  })
})
