import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import { startServer, type RunningTrent } from '../../src/main.js'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { ACCOUNT, CREDENTIALS, REGION, tempDataDir } from './harness.js'
import { ShiftedClock, clockedClient } from './shifted-clock.js'

const DAY = 24 * 60 * 60 * 1000

/** Polls `read` until it returns `expected` or `withinMs` passes; returns the last value read. */
async function eventually<T>(read: () => Promise<T>, expected: T, withinMs: number): Promise<T> {
  const end = Date.now() + withinMs
  for (;;) {
    const value = await read()
    if (value === expected || Date.now() > end) return value
    await sleep(20)
  }
}

describe('key rotation with two nodes on PostgreSQL', { skip: pgSkip() }, () => {
  const data = tempDataDir()
  const clock = new ShiftedClock()
  let admin: PgAdmin
  const nodes: RunningTrent[] = []
  const clients: KMSClient[] = []

  before(async () => {
    const url = pgUrl()
    admin = new PgAdmin(url)
    const storeUrl = await admin.createDatabase(url, 'trent_rotation')
    // B caches for ten minutes: only the store's change reports can make it see A's rotations.
    for (const cacheTtlMs of [1000, 600_000]) {
      const node = await startServer({ host: '127.0.0.1', port: 0, dataDir: data.dir, storeUrl, region: REGION, accountId: ACCOUNT, admin: CREDENTIALS, clock, cacheTtlMs })
      nodes.push(node)
      clients.push(clockedClient(node.url, clock))
    }
  })
  after(async () => {
    for (const c of clients) c.destroy()
    for (const n of nodes) await n.close()
    await admin?.cleanup()
    data.cleanup()
  })

  it('a rotation made through A is used by B at once, and B still decrypts what it made before', async () => {
    const [a, b] = clients as [KMSClient, KMSClient]
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    const blob = (await b.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('made on B') }))).CiphertextBlob!
    const first = (await b.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!
    await a.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))
    const second = (await a.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!
    assert.notEqual(second, first)
    const seenByB = await eventually(async () => (await b.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }))).KeyMaterialId, second, 2000)
    assert.equal(seenByB, second)
    const decrypted = await b.send(new DecryptCommand({ CiphertextBlob: blob }))
    assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'made on B')
    assert.equal(decrypted.KeyMaterialId, first)
  })

  it('the rotation job of both nodes rotates a due key exactly once', async () => {
    const [a] = clients as [KMSClient, KMSClient]
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    await a.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }))
    clock.offsetMs += 91 * DAY
    const runs = await Promise.all([...nodes, ...nodes].map((n) => n.runKeyMaterialJobs()))
    assert.equal(runs.reduce((sum, r) => sum + r.rotated, 0), 1)
    const rotations = (await a.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!
    assert.deepEqual(rotations.map((r) => r.RotationType), ['AUTOMATIC'])
  })
})
