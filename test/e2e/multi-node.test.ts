import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  KMSServiceException,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { ROOT, kmsClient, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'

/** How long a node may serve key metadata from memory (CachedStore's default TTL). */
const CACHE_TTL_MS = 1000
const PLAINTEXT = new TextEncoder().encode('shared by every node')
const CLUSTER_SCRIPT = join(ROOT, 'scripts/pg-test-cluster.sh')

/** One Trent node: its server, data dir and client. */
interface Node {
  server: TestServer
  kms: KMSClient
  cleanup(): void
}

async function startNode(env: Record<string, string>, args: string[] = [], sealKeyFrom?: string): Promise<Node> {
  const dir = tempDataDir()
  // Nodes sharing a database must share the seal key that sealed the domain stored in it.
  if (sealKeyFrom !== undefined) copyFileSync(join(sealKeyFrom, 'seal.key'), join(dir.dir, 'seal.key'))
  try {
    const server = await startTestServer(dir.dir, env, args)
    return { server, kms: kmsClient(server.url), cleanup: dir.cleanup }
  } catch (e) {
    dir.cleanup()
    throw e
  }
}

async function stopNode(node: Node | undefined): Promise<void> {
  if (node === undefined) return
  node.kms.destroy()
  await node.server.stop()
  node.cleanup()
}

function errorName(e: unknown): string {
  return e instanceof KMSServiceException ? e.name : `not a service error: ${String(e)}`
}

/** Sends `send()` until it does not fail with ConflictException (the service's own retries ran out). */
async function retryingConflicts<T>(send: () => Promise<T>, counter: { conflicts: number }): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send()
    } catch (e) {
      if (!(e instanceof KMSServiceException && e.name === 'ConflictException') || attempt >= 20) throw e
      counter.conflicts++
      await sleep(Math.random() * 20)
    }
  }
}

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

function hasPostgresBinaries(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`))
  } catch {
    return false
  }
}

function cluster(command: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(CLUSTER_SCRIPT, [command], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`pg-test-cluster.sh ${command} failed: ${error.message}\n${stderr}`))
      else resolve(stdout.trim())
    })
  })
}

// One top-level suite, so that without PostgreSQL the file reports one skipped line.
describe('Trent on PostgreSQL', { skip: pgSkip() }, () => {
  describe('several Trent nodes on one PostgreSQL database', () => {
    let admin: PgAdmin
    let dbUrl: string
    let a: Node | undefined
    let b: Node | undefined

    before(async () => {
      const url = pgUrl()
      admin = new PgAdmin(url)
      dbUrl = await admin.createDatabase(url, 'trent_multinode')
      // Node A initialises the database (domain, credentials); B gets A's seal key and loads the domain.
      a = await startNode({ TRENT_STORE_URL: dbUrl })
      b = await startNode({}, ['--store', dbUrl], a.server.dataDir)
    })

    after(async () => {
      await stopNode(a)
      await stopNode(b)
      await admin?.cleanup()
    })

    it('serves the same keys on both nodes: created on A, encrypts on B, and each decrypts the other', async () => {
      const created = await a!.kms.send(new CreateKeyCommand({ Description: 'multi-node' }))
      const keyId = created.KeyMetadata!.KeyId!
      const fromB = await b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT, EncryptionContext: { node: 'b' } }))
      const onA = await a!.kms.send(new DecryptCommand({ CiphertextBlob: fromB.CiphertextBlob, EncryptionContext: { node: 'b' } }))
      assert.deepEqual(onA.Plaintext, PLAINTEXT)
      const fromA = await a!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
      const onB = await b!.kms.send(new DecryptCommand({ CiphertextBlob: fromA.CiphertextBlob }))
      assert.deepEqual(onB.Plaintext, PLAINTEXT)
      assert.equal(onB.KeyId, created.KeyMetadata!.Arn)
    })

    it('lets two nodes with the same seal key initialise a new database at the same moment', async () => {
      const url = await admin.createDatabase(pgUrl(), 'trent_multinode_init')
      const sealKeyDir = tempDataDir()
      writeFileSync(join(sealKeyDir.dir, 'seal.key'), randomBytes(32), { mode: 0o600 })
      const nodes = await Promise.allSettled([startNode({ TRENT_STORE_URL: url }, [], sealKeyDir.dir), startNode({ TRENT_STORE_URL: url }, [], sealKeyDir.dir)])
      sealKeyDir.cleanup()
      try {
        const [x, y] = nodes.map((n) => {
          if (n.status === 'rejected') throw n.reason
          return n.value
        })
        const keyId = (await x!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
        const { CiphertextBlob } = await y!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
        assert.deepEqual((await x!.kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext, PLAINTEXT)
      } finally {
        for (const n of nodes) if (n.status === 'fulfilled') await stopNode(n.value)
      }
    })

    it('refuses to start a node whose seal key did not seal the stored domain, saying what to do', async () => {
      await assert.rejects(startNode({ TRENT_STORE_URL: dbUrl }), /copy seal\.key from the data dir of the node that initialised the database/)
    })

    it('honours a DisableKey on A on B within the cache TTL, and on A at once', async () => {
      const keyId = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      // B has the key in its cache.
      await b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
      await a!.kms.send(new DisableKeyCommand({ KeyId: keyId }))
      const disabledAt = Date.now()
      await rejectsWithKmsError(a!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })), 'DisabledException')
      for (;;) {
        try {
          await b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
        } catch (e) {
          assert.equal(errorName(e), 'DisabledException')
          break
        }
        assert.ok(Date.now() - disabledAt < CACHE_TTL_MS + 1000, 'B still encrypts with a key disabled on A after the cache TTL')
        await sleep(50)
      }
      assert.ok(Date.now() - disabledAt <= CACHE_TTL_MS + 1000)
    })

    it('loses no tag when both nodes tag one key at once (20 TagResource calls, 10 through each)', async (t) => {
      const keyId = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      const counter = { conflicts: 0 }
      const tags = Array.from({ length: 20 }, (_, i) => ({ TagKey: `tag-${String(i).padStart(2, '0')}`, TagValue: `value ${i}` }))
      await Promise.all(
        tags.map((tag, i) =>
          retryingConflicts(() => (i % 2 === 0 ? a! : b!).kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [tag] })), counter),
        ),
      )
      for (const node of [a!, b!]) {
        await sleep(CACHE_TTL_MS)
        const listed = await node.kms.send(new ListResourceTagsCommand({ KeyId: keyId }))
        assert.deepEqual([...listed.Tags!].sort((x, y) => x.TagKey!.localeCompare(y.TagKey!)), tags)
      }
      // Not asserted: how often the service ran out of its own retries and answered ConflictException.
      t.diagnostic(`TagResource answered ConflictException ${counter.conflicts} times (retried by the client)`)
    })

    it('schedules deletion once when both nodes do it at the same moment; the other gets KMSInvalidStateException', async () => {
      for (let round = 0; round < 5; round++) {
        const keyId = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
        // Both nodes have read the key, so both start from the Enabled state.
        await Promise.all([a!, b!].map((n) => n.kms.send(new DescribeKeyCommand({ KeyId: keyId }))))
        const results = await Promise.allSettled(
          [a!, b!].map((n) => n.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }))),
        )
        const ok = results.filter((r) => r.status === 'fulfilled')
        const failed = results.flatMap((r) => (r.status === 'rejected' ? [errorName(r.reason)] : []))
        assert.equal(ok.length, 1, `round ${round}: ${JSON.stringify(failed)}`)
        assert.deepEqual(failed, ['KMSInvalidStateException'])
        const described = await a!.kms.send(new DescribeKeyCommand({ KeyId: keyId }))
        assert.equal(described.KeyMetadata!.KeyState, 'PendingDeletion')
      }
    })
  })

  // Its own private cluster, so stopping it disturbs no other test file that uses PostgreSQL.
  const restartSkip = hasPostgresBinaries() ? {} : { skip: 'needs /usr/lib/postgresql/*/bin to stop and start a cluster' }

  describe('a Trent node across a PostgreSQL restart', restartSkip, () => {
    let env: Record<string, string>
    let node: Node | undefined

    before(async () => {
      const port = String(await freePort())
      env = { TRENT_PG_PORT: port, TRENT_PG_DIR: `/tmp/trent-pg-restart-${process.pid}` }
      const url = await cluster('start', env)
      node = await startNode({ TRENT_STORE_URL: url })
    })

    after(async () => {
      await stopNode(node)
      await cluster('stop', env)
    })

    it('answers DependencyTimeoutException while PostgreSQL is down, stays up, and serves everything after', async () => {
      const kms = node!.kms
      const keyId = (await kms.send(new CreateKeyCommand({ Description: 'before the restart' }))).KeyMetadata!.KeyId!
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))

      await cluster('down', env)
      // Past the cache TTL, so every request needs the database.
      await sleep(CACHE_TTL_MS + 100)
      await rejectsWithKmsError(kms.send(new CreateKeyCommand({})), 'DependencyTimeoutException')
      await rejectsWithKmsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })), 'DependencyTimeoutException')
      await rejectsWithKmsError(kms.send(new DecryptCommand({ CiphertextBlob })), 'DependencyTimeoutException')
      assert.equal(node!.server.process.exitCode, null, 'the node exited during the outage')
      assert.equal(node!.server.process.signalCode, null)

      await cluster('up', env)
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob }))
      assert.deepEqual(decrypted.Plaintext, PLAINTEXT)
      const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }))
      assert.equal(described.KeyMetadata!.Description, 'before the restart')
      const again = await kms.send(new CreateKeyCommand({ Description: 'after the restart' }))
      await kms.send(new EncryptCommand({ KeyId: again.KeyMetadata!.KeyId!, Plaintext: PLAINTEXT }))
      assert.ok(node!.server.output.some((l) => /lost the PostgreSQL connection/.test(l)), node!.server.output.join('\n'))
      assert.ok(node!.server.output.some((l) => /PostgreSQL is reachable again/.test(l)), node!.server.output.join('\n'))
    })
  })
})
