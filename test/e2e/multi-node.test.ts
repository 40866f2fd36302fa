import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  KMSServiceException,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { ROOT, kmsClient, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'

/** How long a node may serve key metadata from memory (CachedStore's default TTL). */
const CACHE_TTL_MS = 1000
/**
 * Node B's cache TTL (`TRENT_CACHE_TTL_MS`): so long that only the LISTEN/NOTIFY invalidation can
 * make B see a change made through A within the tests' bounds.
 */
const B_CACHE_TTL_MS = 600_000
/** How soon a change made through one node must be honoured by the other (the notification's bound). */
const NOTIFY_BOUND_MS = 200
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

/**
 * Calls `probe` every 10 ms until it returns true; fails with `message` if that takes longer than
 * `ms` after `since` (a `Date.now()`). Resolves to how long it took.
 */
async function within(ms: number, since: number, probe: () => Promise<boolean>, message: string): Promise<number> {
  for (;;) {
    if (await probe()) return Date.now() - since
    if (Date.now() - since > ms) assert.fail(`${message} (after ${Date.now() - since} ms)`)
    await sleep(10)
  }
}

/** True once `send()` rejects with the AWS error `name`; false while it succeeds; throws on any other error. */
async function rejectsNow(send: () => Promise<unknown>, name: string): Promise<boolean> {
  try {
    await send()
    return false
  } catch (e) {
    assert.equal(errorName(e), name)
    return true
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
      b = await startNode({ TRENT_CACHE_TTL_MS: String(B_CACHE_TTL_MS) }, ['--store', dbUrl], a.server.dataDir)
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

    it(`honours a DisableKey on A on B within ${NOTIFY_BOUND_MS} ms though B caches for ${B_CACHE_TTL_MS / 60_000} min (LISTEN/NOTIFY), and on A at once`, async (t) => {
      const keyId = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
      // B has the key in its cache, and would serve it from there for B_CACHE_TTL_MS.
      await b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
      await b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))
      await a!.kms.send(new DisableKeyCommand({ KeyId: keyId }))
      const disabledAt = Date.now()
      await rejectsWithKmsError(a!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })), 'DisabledException')
      const took = await within(
        NOTIFY_BOUND_MS,
        disabledAt,
        () => rejectsNow(() => b!.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT })), 'DisabledException'),
        'B still encrypts with a key disabled on A',
      )
      t.diagnostic(`B answered DisabledException ${took} ms after A's DisableKey returned`)
    })

    it(`follows a ScheduleKeyDeletion and an alias move made on A on B within ${NOTIFY_BOUND_MS} ms`, async () => {
      const first = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!
      const second = (await a!.kms.send(new CreateKeyCommand({}))).KeyMetadata!
      const aliasName = `alias/multi-node-${randomBytes(4).toString('hex')}`
      await a!.kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: first.KeyId! }))
      // B caches the alias target and both keys.
      const viaAlias = await b!.kms.send(new EncryptCommand({ KeyId: aliasName, Plaintext: PLAINTEXT }))
      assert.equal(viaAlias.KeyId, first.Arn)
      await b!.kms.send(new EncryptCommand({ KeyId: second.KeyId!, Plaintext: PLAINTEXT }))

      await a!.kms.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: second.KeyId! }))
      await within(
        NOTIFY_BOUND_MS,
        Date.now(),
        async () => (await b!.kms.send(new EncryptCommand({ KeyId: aliasName, Plaintext: PLAINTEXT }))).KeyId === second.Arn,
        'B still resolves the alias to the key it pointed at before UpdateAlias on A',
      )

      await a!.kms.send(new ScheduleKeyDeletionCommand({ KeyId: first.KeyId!, PendingWindowInDays: 7 }))
      await within(
        NOTIFY_BOUND_MS,
        Date.now(),
        () => rejectsNow(() => b!.kms.send(new EncryptCommand({ KeyId: first.KeyId!, Plaintext: PLAINTEXT })), 'KMSInvalidStateException'),
        'B still encrypts with a key scheduled for deletion on A',
      )
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
      // B's long TTL: it sees A's last tags only through the notifications.
      for (const node of [a!, b!]) {
        let listed: unknown
        await within(NOTIFY_BOUND_MS, Date.now(), async () => {
          const { Tags } = await node.kms.send(new ListResourceTagsCommand({ KeyId: keyId }))
          listed = [...Tags!].sort((x, y) => x.TagKey!.localeCompare(y.TagKey!))
          return JSON.stringify(listed) === JSON.stringify(tags)
        }, 'not every tag is listed')
        assert.deepEqual(listed, tags)
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
      // The LISTEN connection was lost too ('error' handled, the node is up) and comes back by itself.
      assert.ok(node!.server.output.some((l) => /not listening for other nodes' changes/.test(l)), node!.server.output.join('\n'))
      await within(5000, Date.now(), async () => node!.server.output.some((l) => /listening for other nodes' changes again/.test(l)), 'the LISTEN connection did not come back')
    })
  })
})
