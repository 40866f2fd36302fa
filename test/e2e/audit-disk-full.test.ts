import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { CreateKeyCommand, EncryptCommand, KMSServiceException } from '@aws-sdk/client-kms'
import { CLI, healthRecovers, kmsClient, segmentLines, startTestServer, type TestServer } from './harness.js'

const run = promisify(execFile)

/** Mounts a tmpfs of `size` at `dir`; false where that is not allowed (not root). */
function mountSmallFs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Writes zeros into `file` until the filesystem is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
  } finally {
    closeSync(fd)
  }
}

function requestIds(auditDir: string): Set<string> {
  const ids = new Set<string>()
  for (const name of readdirSync(auditDir).filter((n) => n.startsWith('trail-'))) {
    for (const line of segmentLines(join(auditDir, name))) ids.add((JSON.parse(line) as { event: { requestID: string } }).event.requestID)
  }
  return ids
}

describe('audit trail on a filesystem that fills up', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'trent-diskfull-'))
  const auditDir = join(dataDir, 'audit')
  mkdirSync(auditDir)
  const mounted = mountSmallFs(auditDir, '6m')
  let server: TestServer | undefined
  after(async () => {
    await server?.stop()
    if (mounted) execFileSync('umount', [auditDir])
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('fails closed when the disk is full, reports it on /health, recovers when space returns, and loses no record', { skip: !mounted && 'mounting a small tmpfs needs root' }, async () => {
    server = await startTestServer(dataDir)
    const kms = kmsClient(server.url)
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    const filler = join(auditDir, 'filler')
    fill(filler)

    // The space the live segment reserved takes records until it too is used up.
    const acknowledged: string[] = []
    let refused: KMSServiceException | undefined
    const worker = async (): Promise<void> => {
      while (!refused && acknowledged.length < 20_000) {
        try {
          const out = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('disk full') }))
          acknowledged.push(out.$metadata.requestId!)
        } catch (e) {
          refused = e as KMSServiceException
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    assert.ok(refused, 'the disk never filled up')
    // The next segment is not made ahead on a file system without several times its size free.
    assert.equal(existsSync(join(auditDir, 'spare-segment')), false)
    assert.equal(refused.name, 'KMSInternalException')
    const health = await fetch(`${server.url}/health`)
    assert.equal(health.status, 503)
    assert.match(((await health.json()) as { reason: string }).reason, /audit trail not writable: (short write|ENOSPC)/)
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('still full') })), { name: 'KMSInternalException' })

    rmSync(filler)
    await healthRecovers(server.url)
    const later = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('space again') }))
    acknowledged.push(later.$metadata.requestId!)

    const onDisk = requestIds(auditDir)
    assert.deepEqual(acknowledged.filter((id) => !onDisk.has(id)), [])
    await server.stop()
    server = undefined
    const verified = await run(process.execPath, [CLI, 'audit', 'verify', '--data-dir', dataDir])
    assert.match(verified.stdout, /audit trail verified/)
  })
})
