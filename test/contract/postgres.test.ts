import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { systemClock } from '../../src/core/clock.js'
import { isKmsError } from '../../src/core/errors.js'
import { CachedStore } from '../../src/store/cached-store.js'
import type { PgPool } from '../../src/store/postgres/postgres-config.js'
import { POSTGRES_MIGRATIONS, migratePostgres } from '../../src/store/postgres/postgres-migrations.js'
import { PostgresStore } from '../../src/store/postgres/postgres-store.js'
import type { KeyRecord, Store, StoreChange } from '../../src/store/store.js'
import { PgAdmin, pgSkip, pgUrl, schemaPool } from './pg-test-db.js'
import { sampleKey, storeContract } from './store-contract.js'

const skip = pgSkip()

describe('PostgreSQL store', { skip }, () => {
  let admin: PgAdmin
  let url: string
  before(() => {
    url = pgUrl()
    admin = new PgAdmin(url)
  })
  after(() => admin?.cleanup())

  const schemaOf = new WeakMap<Store, string>()
  const quiet = (): void => undefined

  function open(schema: string, log: (m: string) => void = quiet): PostgresStore {
    const store = new PostgresStore(schemaPool(url, schema), { log })
    schemaOf.set(store, schema)
    return store
  }

  /** A store on a fresh, empty schema, not migrated. */
  async function fresh(log?: (m: string) => void): Promise<{ store: PostgresStore; schema: string }> {
    const schema = await admin.createSchema()
    return { store: open(schema, log), schema }
  }

  storeContract('postgres', async () => (await fresh()).store, {
    reopen: async (store) => {
      const schema = schemaOf.get(store)
      if (schema === undefined) throw new Error('not a store this test opened')
      return open(schema)
    },
  })

  describe('PostgresStore', () => {
    it('refuses to be used before migrate()', async () => {
      const { store } = await fresh()
      try {
        await assert.rejects(store.getKey('x'), /call migrate\(\)/)
        await assert.rejects(store.createKey(sampleKey()), /call migrate\(\)/)
      } finally {
        await store.close()
      }
    })

    it('reports which migrations it applied, and none the second time', async () => {
      const { store } = await fresh()
      try {
        assert.deepEqual(await store.migrateWithReport(), { applied: POSTGRES_MIGRATIONS.map((m) => m.name) })
        assert.deepEqual(await store.migrateWithReport(), { applied: [] })
      } finally {
        await store.close()
      }
    })

    it('migrates once when several nodes start at the same moment (advisory lock)', async () => {
      const schema = await admin.createSchema()
      const stores = Array.from({ length: 4 }, () => open(schema))
      try {
        const reports = await Promise.all(stores.map((s) => s.migrateWithReport()))
        const applied = reports.map((r) => r.applied)
        assert.equal(applied.filter((a) => a.length > 0).length, 1, JSON.stringify(applied))
        assert.deepEqual(applied.find((a) => a.length > 0), POSTGRES_MIGRATIONS.map((m) => m.name))
        const recorded = await admin.pool.query(`SELECT name FROM ${schema}.trent_migrations ORDER BY name`)
        assert.deepEqual(recorded.rows.map((r: { name: string }) => r.name), POSTGRES_MIGRATIONS.map((m) => m.name))
        const key = sampleKey()
        await stores[0]!.createKey(key)
        assert.deepEqual(await stores[3]!.getKey(key.keyId), key)
      } finally {
        for (const s of stores) await s.close()
      }
    })

    it('refuses a database migrated by a newer Trent, before and after the store was used', async () => {
      const { store, schema } = await fresh()
      try {
        await store.migrate()
        await admin.pool.query(`INSERT INTO ${schema}.trent_migrations (name, applied_at) VALUES ('9999-from-the-future', 0)`)
        await assert.rejects(store.migrate(), /newer Trent.*9999-from-the-future/)
        await assert.rejects(store.getKey('x'), /call migrate\(\)/)
      } finally {
        await store.close()
      }
      const again = open(schema)
      try {
        await assert.rejects(again.migrate(), /newer Trent/)
        await assert.rejects(again.getSealedDomain(), /call migrate\(\)/)
      } finally {
        await again.close()
      }
    })

    it('refuses a history with a gap, and rolls back a failing run as a whole (DDL included)', async () => {
      const schema = await admin.createSchema()
      const pool = schemaPool(url, schema)
      try {
        const one = { name: '0001-a', sql: 'CREATE TABLE a (x integer)' }
        const two = { name: '0002-b', sql: 'CREATE TABLE b (x integer)' }
        const broken = { name: '0003-broken', sql: 'CREATE TABLE c (x integer); THIS IS NOT SQL' }
        assert.deepEqual(await migratePostgres(pool, [two]), { applied: ['0002-b'] })
        await assert.rejects(migratePostgres(pool, [one, two]), /gap before 0001-a/)
        await assert.rejects(migratePostgres(pool, [two, broken]))
        const tables = await pool.query(
          'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
          [schema],
        )
        assert.deepEqual(tables.rows.map((r: { table_name: string }) => r.table_name), ['b', 'trent_migrations'])
        assert.deepEqual(await migratePostgres(pool, [two, { name: '0003-c', sql: 'CREATE TABLE c (x integer)' }]), { applied: ['0003-c'] })
      } finally {
        await pool.end()
      }
    })

    it('orders alias names by UTF-8 bytes whatever the database collation (COLLATE "C")', async () => {
      const { store, schema } = await fresh()
      try {
        await store.migrate()
        const column = await admin.pool.query(
          `SELECT collation_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'aliases' AND column_name = 'alias_name'`,
          [schema],
        )
        assert.equal(column.rows[0].collation_name, 'C')
        const key = sampleKey()
        await store.createKey(key)
        const names = ['alias/é', 'alias/z', 'alias/ä', 'alias/Z', 'alias/日本', 'alias/a']
        for (const aliasName of names) {
          await store.createAlias({ accountId: key.accountId, region: key.region, aliasName, targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 })
        }
        const expected = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        const seen: string[] = []
        let marker: string | undefined
        do {
          const page = await store.listAliases(key.accountId, key.region, { limit: 2, ...(marker === undefined ? {} : { after: marker }) })
          seen.push(...page.aliases.map((a) => a.aliasName))
          marker = page.nextMarker
        } while (marker !== undefined)
        assert.deepEqual(seen, expected)
      } finally {
        await store.close()
      }
    })

    it('lists every key of concurrent CreateKeys from two nodes exactly once', async () => {
      const { store: a, schema } = await fresh()
      const b = open(schema)
      try {
        await a.migrate()
        await b.migrate()
        const keys = Array.from({ length: 40 }, (_, i) => sampleKey({ creationDate: 1_700_000_000_000 + (i % 3) }))
        await Promise.all(keys.map((k, i) => (i % 2 === 0 ? a : b).createKey(k)))
        const seen: string[] = []
        let marker: string | undefined
        do {
          const page = await (seen.length % 2 === 0 ? a : b).listKeys(keys[0]!.accountId, keys[0]!.region, 7, marker)
          seen.push(...page.keys.map((k) => k.keyId))
          marker = page.nextMarker
        } while (marker !== undefined)
        assert.equal(seen.length, 40)
        assert.deepEqual(new Set(seen), new Set(keys.map((k) => k.keyId)))
      } finally {
        await a.close()
        await b.close()
      }
    })

    it('hands out list positions in commit order: a CreateKey waits for an uncommitted one of its account and region', async () => {
      const { store, schema } = await fresh()
      const raw = await admin.pool.connect()
      try {
        await store.migrate()
        const first = sampleKey()
        await store.createKey(first)
        // Another node's CreateKey that has taken the next position but not committed yet.
        await raw.query('BEGIN')
        await raw.query(`UPDATE ${schema}.key_list_positions SET last_position = last_position + 1 WHERE account_id = $1 AND region = $2`, [
          first.accountId,
          first.region,
        ])
        const second = sampleKey()
        let done = false
        const creating = store.createKey(second).then(() => {
          done = true
        })
        // Other accounts and regions are not held up.
        await store.createKey(sampleKey({ region: 'us-east-1' }))
        await sleep(100)
        assert.equal(done, false)
        await raw.query('ROLLBACK')
        await creating
        const { keys } = await store.listKeys(first.accountId, first.region, 10)
        assert.deepEqual(keys.map((k) => k.keyId), [first.keyId, second.keyId])
      } finally {
        raw.release()
        await store.close()
      }
    })

    it('returns bigint columns as numbers, beyond 32 bits', async () => {
      const { store } = await fresh()
      try {
        await store.migrate()
        const key = sampleKey({ creationDate: 8_000_000_000_000, deletionDate: Number.MAX_SAFE_INTEGER, keyState: 'PendingDeletion', pendingWindowInDays: 30, version: 2 ** 40 })
        await store.createKey(key)
        const got = await store.getKey(key.keyId)
        assert.deepEqual(got, key)
        assert.equal(typeof got?.creationDate, 'number')
        await store.updateKey({ ...key, version: 2 ** 40 + 1 })
        assert.equal((await store.getKey(key.keyId))?.version, 2 ** 40 + 1)
      } finally {
        await store.close()
      }
    })

    describe('change notifications (LISTEN/NOTIFY)', () => {
      /** Polls `check` every 5 ms until it holds; fails after `ms`. */
      async function waitFor(check: () => boolean | Promise<boolean>, message: string, ms = 5000): Promise<void> {
        for (const deadline = Date.now() + ms; !(await check()); await sleep(5)) {
          if (Date.now() > deadline) assert.fail(message)
        }
      }

      const listenName = (schema: string): string => `${schema}_listen`

      /** A store on `schema` whose LISTEN connection is a pg.Client named `<schema>_listen`. */
      function openListening(schema: string, log: (m: string) => void = quiet): PostgresStore {
        return new PostgresStore(schemaPool(url, schema), {
          log,
          listenClient: () => new pg.Client({ connectionString: url, options: `-c search_path=${schema}`, application_name: listenName(schema) }),
        })
      }

      async function listenConnections(schema: string): Promise<number> {
        const r = await admin.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [listenName(schema)])
        return (r.rows[0] as { n: number }).n
      }

      /** Subscribes to `store`, migrates it (which waits for the LISTEN connection) and drops the connection's `everything`. */
      async function subscribed(store: PostgresStore): Promise<{ changes: StoreChange[]; unsubscribe: () => void }> {
        const changes: StoreChange[] = []
        const unsubscribe = store.subscribe!((c) => changes.push(c))
        await store.migrate()
        await waitFor(() => changes.length > 0, 'no { everything: true } after connecting')
        assert.deepEqual(changes.splice(0), [{ everything: true }])
        return { changes, unsubscribe }
      }

      it('reports every committed key and alias write made through another store, within milliseconds', async (t) => {
        const schema = await admin.createSchema()
        const a = openListening(schema)
        const b = openListening(schema)
        try {
          await a.migrate()
          const { changes } = await subscribed(b)
          const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1, pendingWindowInDays: 7 })
          const other = sampleKey()
          await a.createKey(key)
          await a.createKey(other)
          const alias = { accountId: key.accountId, region: key.region, aliasName: 'alias/notified' }
          const latencies: number[] = []
          const expected: StoreChange[] = []
          const step = async (write: () => Promise<unknown>, change: StoreChange): Promise<void> => {
            const started = performance.now()
            await write()
            expected.push(change)
            await waitFor(() => changes.length === expected.length, `no report of ${JSON.stringify(change)}`, 2000)
            latencies.push(performance.now() - started)
          }
          await step(() => a.updateKey({ ...key, description: 'changed', version: 2 }), { keyId: key.keyId })
          await step(() => a.createAlias({ ...alias, targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 }), { alias })
          await step(() => a.updateAlias(alias.accountId, alias.region, alias.aliasName, other.keyId, 2), { alias })
          await step(() => a.deleteAlias(alias.accountId, alias.region, alias.aliasName), { alias })
          await step(() => a.deleteKey({ ...key, description: 'changed', version: 2 }), { keyId: key.keyId })
          assert.deepEqual(changes, expected)
          t.diagnostic(`write + report took ${latencies.map((ms) => ms.toFixed(1)).join(', ')} ms`)
        } finally {
          await a.close()
          await b.close()
        }
      })

      it('reports a grant created or deleted through another store as a change of its key', async () => {
        const schema = await admin.createSchema()
        const a = openListening(schema)
        const b = openListening(schema)
        try {
          await a.migrate()
          const { changes } = await subscribed(b)
          const key = sampleKey()
          await a.createKey(key)
          const grant = {
            grantId: 'c'.repeat(64),
            keyId: key.keyId,
            name: 'g',
            granteePrincipal: `arn:aws:iam::${key.accountId}:root`,
            operations: ['Encrypt'],
            issuingAccount: `arn:aws:iam::${key.accountId}:root`,
            creationDate: 1,
          }
          await a.createGrant(grant, 'token-1')
          await waitFor(() => changes.length === 1, 'no report of the new grant', 2000)
          // The same name and parameters create nothing, so nothing is reported.
          await a.createGrant({ ...grant, grantId: 'd'.repeat(64) }, 'token-2')
          assert.equal(await a.deleteGrant(grant.grantId), true)
          await waitFor(() => changes.length === 2, 'no report of the deleted grant', 2000)
          assert.deepEqual(changes, [{ keyId: key.keyId }, { keyId: key.keyId }])
        } finally {
          await a.close()
          await b.close()
        }
      })

      it('reports deleted access keys, the sessions of a deleted role, and user and role changes', async () => {
        const schema = await admin.createSchema()
        const a = openListening(schema)
        const b = openListening(schema)
        try {
          await a.migrate()
          const { changes } = await subscribed(b)
          const account = '111122223333'
          const user = { accountId: account, userName: 'app' }
          const role = { accountId: account, roleName: 'ops' }
          const roleRecord = { ...role, roleId: 'AROATRENTEXAMPLE0001', arn: `arn:aws:iam::${account}:role/ops`, path: '/', trustPolicy: '{}', createdAt: 1, maxSessionDuration: 3600 }
          await a.createUser({ ...user, userId: 'AIDATRENTEXAMPLE0001', arn: `arn:aws:iam::${account}:user/app`, path: '/', createdAt: 1 })
          await a.putCredential({ accessKeyId: 'AKIATRENTEXAMPLE0001', accountId: account, principalArn: `arn:aws:iam::${account}:user/app`, wrappedSecret: new Uint8Array([1]), createdAt: 1, userName: 'app' })
          await a.createRole(roleRecord)
          const session = { accountId: account, roleName: 'ops', roleId: roleRecord.roleId, sessionName: 's', wrappedSecret: new Uint8Array([1]), tokenHash: new Uint8Array(32), createdAt: 1, expiresAt: 2 }
          await a.putRoleSession({ ...session, accessKeyId: 'ASIATRENTEXAMPLE0001' })
          await a.putRoleSession({ ...session, accessKeyId: 'ASIATRENTEXAMPLE0002' })
          assert.deepEqual(changes, [], 'creations make nothing stale')
          const expected: StoreChange[] = []
          const step = async (write: () => Promise<unknown>, ...reports: StoreChange[]): Promise<void> => {
            await write()
            expected.push(...reports)
            await waitFor(() => changes.length === expected.length, `no report of ${JSON.stringify(reports)}`, 2000)
          }
          const policy = { ...user, policyName: 'p', document: '{}' }
          await step(() => a.putUserPolicy(policy), { user })
          await step(() => a.deleteUserPolicy(account, 'app', 'p'), { user })
          await step(() => a.deleteCredential('AKIATRENTEXAMPLE0001'), { accessKeyId: 'AKIATRENTEXAMPLE0001' })
          await step(() => a.deleteUser(account, 'app'), { user })
          await step(() => a.putRolePolicy({ ...role, policyName: 'p', document: '{}' }), { role })
          await step(() => a.deleteRolePolicy(account, 'ops', 'p'), { role })
          await step(() => a.updateRole({ ...roleRecord, maxSessionDuration: 7200 }), { role })
          await step(() => a.deleteRole(account, 'ops'), { accessKeyId: 'ASIATRENTEXAMPLE0001' }, { accessKeyId: 'ASIATRENTEXAMPLE0002' }, { role })
          assert.deepEqual(
            changes.map((c) => JSON.stringify(c)).sort(),
            expected.map((c) => JSON.stringify(c)).sort(),
          )
          // Writes that change nothing report nothing.
          assert.equal(await a.deleteCredential('AKIATRENTEXAMPLE0001'), false)
          assert.equal(await a.deleteUserPolicy(account, 'app', 'p'), false)
          await sleep(100)
          assert.equal(changes.length, expected.length)
        } finally {
          await a.close()
          await b.close()
        }
      })

      it('reports nothing for a write that changes nothing or fails, nor for writes in another schema', async () => {
        const schema = await admin.createSchema()
        const a = openListening(schema)
        const b = openListening(schema)
        const elsewhere = openListening(await admin.createSchema())
        try {
          await a.migrate()
          await elsewhere.migrate()
          const { changes } = await subscribed(b)
          const key = sampleKey()
          await a.createKey(key)
          await a.createAlias({ accountId: key.accountId, region: key.region, aliasName: 'alias/x', targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 })
          await waitFor(() => changes.length === 1, 'CreateAlias was not reported')
          changes.splice(0)
          await assert.rejects(a.updateKey({ ...key, version: 5 }), /version/)
          assert.equal(await a.deleteKey(key), false)
          assert.equal(await a.createAlias({ accountId: key.accountId, region: key.region, aliasName: 'alias/x', targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 }), false)
          assert.equal(await a.updateAlias(key.accountId, key.region, 'alias/missing', key.keyId, 2), false)
          await assert.rejects(a.updateAlias(key.accountId, key.region, 'alias/x', 'no-such-key', 2), /does not exist/)
          assert.equal(await a.deleteAlias(key.accountId, key.region, 'alias/missing'), false)
          const there = sampleKey()
          await elsewhere.createKey(there)
          await elsewhere.updateKey({ ...there, version: 2 })
          // A write that does report, sent last: once it arrives, anything reported before it has too.
          await a.updateKey({ ...key, version: 2 })
          await waitFor(() => changes.length > 0, 'the last write was not reported')
          await sleep(50)
          assert.deepEqual(changes, [{ keyId: key.keyId }])
        } finally {
          await a.close()
          await b.close()
          await elsewhere.close()
        }
      })

      it('reopens a LISTEN connection that PostgreSQL killed, reports everything, and delivers again', async () => {
        const schema = await admin.createSchema()
        const log: string[] = []
        const a = openListening(schema)
        const b = openListening(schema, (m) => log.push(m))
        try {
          await a.migrate()
          const { changes } = await subscribed(b)
          // The killed connection emits 'error' on the client; unhandled, it would crash this process.
          await admin.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [listenName(schema)])
          await waitFor(() => log.some((m) => /not listening for other nodes' changes/.test(m)), `no loss reported: ${log.join('\n')}`)
          await waitFor(() => changes.some((c) => c.everything === true), 'no { everything: true } after reconnecting')
          assert.ok(log.some((m) => /listening for other nodes' changes again/.test(m)), log.join('\n'))
          assert.equal(await listenConnections(schema), 1)
          changes.splice(0)
          const key = sampleKey()
          await a.createKey(key)
          await a.updateKey({ ...key, version: 2 })
          await waitFor(() => changes.length > 0, 'nothing delivered after reconnecting')
          assert.deepEqual(changes, [{ keyId: key.keyId }])
        } finally {
          await a.close()
          await b.close()
        }
      })

      it('opens one LISTEN connection for its subscribers, closes it when the last leaves, and on close', async () => {
        const schema = await admin.createSchema()
        const store = openListening(schema)
        try {
          assert.equal(new PostgresStore(schemaPool(url, schema)).subscribe, undefined, 'no subscribe without listenClient')
          const one = store.subscribe!(() => undefined)
          const two = store.subscribe!(() => undefined)
          await store.migrate()
          assert.equal(await listenConnections(schema), 1)
          one()
          assert.equal(await listenConnections(schema), 1)
          two()
          await waitFor(async () => (await listenConnections(schema)) === 0, 'the LISTEN connection stayed open without subscribers')
          store.subscribe!(() => undefined)
          await waitFor(async () => (await listenConnections(schema)) === 1, 'a new subscriber did not reopen it')
        } finally {
          await store.close()
        }
        await waitFor(async () => (await listenConnections(schema)) === 0, 'close() left the LISTEN connection open')
      })

      it('in front of two stores, CachedStore drops what the other changed at once, however long its TTL', async () => {
        const schema = await admin.createSchema()
        const a = new CachedStore(openListening(schema), { clock: systemClock, ttlMs: 600_000 })
        const b = new CachedStore(openListening(schema), { clock: systemClock, ttlMs: 600_000 })
        try {
          await a.migrate()
          await b.migrate()
          const key = sampleKey()
          await a.createKey(key)
          await a.createAlias({ accountId: key.accountId, region: key.region, aliasName: 'alias/c', targetKeyId: key.keyId, creationDate: 1, lastUpdatedDate: 1 })
          const target = sampleKey()
          await a.createKey(target)
          assert.equal((await b.getKey(key.keyId))?.keyState, 'Enabled')
          assert.equal(await b.getAliasTarget(key.accountId, key.region, 'alias/c'), key.keyId)
          await a.updateKey({ ...key, keyState: 'Disabled', version: 2 })
          await waitFor(async () => (await b.getKey(key.keyId))?.keyState === 'Disabled', 'B served the disabled key as Enabled', 200)
          await a.updateAlias(key.accountId, key.region, 'alias/c', target.keyId, 2)
          await waitFor(async () => (await b.getAliasTarget(key.accountId, key.region, 'alias/c')) === target.keyId, 'B served the old alias target', 200)
        } finally {
          await a.close()
          await b.close()
        }
      })
    })

    describe('PostgreSQL outages', () => {
      /** Polls `check` every 20 ms until it holds; fails after 5 s. */
      async function eventually(check: () => boolean | Promise<boolean>, message: string): Promise<void> {
        for (const deadline = Date.now() + 5000; !(await check()); await sleep(20)) {
          if (Date.now() > deadline) assert.fail(message)
        }
      }

      /** A pool whose connections can be pointed at a port where nothing listens, and back. */
      function switchablePool(schema: string): { pool: PgPool; down(): void; up(): void; end(): Promise<void> } {
        const good = schemaPool(url, schema)
        const dead = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 2000 })
        let target: pg.Pool = good
        const pool: PgPool = {
          query: (text, values) => target.query(text, values),
          connect: () => target.connect(),
          end: async () => undefined,
          on: (event, listener) => {
            good.on(event, listener)
            dead.on(event, listener)
          },
        }
        return {
          pool,
          down: () => (target = dead),
          up: () => (target = good),
          end: async () => {
            await good.end()
            await dead.end()
          },
        }
      }

      it('answers DependencyTimeoutException while PostgreSQL is unreachable, logs it once, and recovers', async () => {
        const schema = await admin.createSchema()
        const sw = switchablePool(schema)
        const log: string[] = []
        const store = new PostgresStore(sw.pool, { log: (m) => log.push(m) })
        try {
          await store.migrate()
          const key = sampleKey()
          await store.createKey(key)
          sw.down()
          const unavailable = (e: unknown): boolean => isKmsError(e, 'DependencyTimeoutException')
          await assert.rejects(store.getKey(key.keyId), unavailable)
          await assert.rejects(store.createKey(sampleKey()), unavailable)
          await assert.rejects(store.updateKey({ ...key, version: 2 }), unavailable)
          await assert.rejects(store.deleteKey(key), unavailable)
          assert.equal(log.length, 1, log.join('\n'))
          assert.match(log[0]!, /lost the PostgreSQL connection.*ECONNREFUSED/)
          sw.up()
          assert.deepEqual(await store.getKey(key.keyId), key)
          assert.equal(log.length, 2)
          assert.match(log[1]!, /reachable again/)
        } finally {
          await store.close()
          await sw.end()
        }
      })

      it('survives PostgreSQL dropping its connections, idle and in a transaction', async () => {
        const log: string[] = []
        const { store, schema } = await fresh((m) => log.push(m))
        const raw = await admin.pool.connect()
        try {
          await store.migrate()
          const key = sampleKey()
          await store.createKey(key)
          // Pooled connections now sit idle; terminating them makes the pool emit 'error', which
          // without the store's listener would crash this process.
          await raw.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [schema])
          await eventually(() => log.some((m) => /lost the PostgreSQL connection/.test(m)), 'the pool reported no error')
          assert.deepEqual(await store.getKey(key.keyId), key)

          // A deletion blocked on a row lock when its connection is killed: the transaction fails
          // with DependencyTimeoutException and nothing of it is applied.
          const pending: KeyRecord = { ...key, keyState: 'PendingDeletion', deletionDate: 1, pendingWindowInDays: 7, version: 2 }
          await store.updateKey(pending)
          await raw.query('BEGIN')
          await raw.query(`SELECT 1 FROM ${schema}.keys WHERE key_id = $1 FOR UPDATE`, [key.keyId])
          // Settled into a value at once: it may reject before the terminating query returns.
          const deleting = store.deleteKey(pending).then(
            (deleted) => ({ deleted }),
            (error: unknown) => ({ error }),
          )
          await eventually(async () => {
            const killed = await admin.pool.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
              [schema],
            )
            return (killed.rowCount ?? 0) > 0
          }, 'deleteKey never waited for the row lock')
          const outcome = await deleting
          assert.ok('error' in outcome && isKmsError(outcome.error, 'DependencyTimeoutException'), String(JSON.stringify(outcome)))
          await raw.query('ROLLBACK')
          assert.deepEqual(await store.getKey(key.keyId), pending)
          assert.equal(await store.deleteKey(pending), true)
        } finally {
          raw.release()
          await store.close()
        }
      })
    })

    describe('crypto-shredding', () => {
      /** The heap file of `table`, when this process can read the server's files (a local test cluster). */
      async function heapFile(schema: string, table: string): Promise<string | undefined> {
        try {
          const r = await admin.pool.query(`SELECT current_setting('data_directory') || '/' || pg_relation_filepath($1) AS file`, [
            `${schema}.${table}`,
          ])
          const file = r.rows[0].file as string
          readFileSync(file)
          return file
        } catch {
          return undefined
        }
      }

      async function checkpointed(file: string): Promise<Buffer> {
        await admin.pool.query('CHECKPOINT')
        return readFileSync(file)
      }

      it('removes the EKT from the table file of key_materials (VACUUM after the deletion)', async (t) => {
        const { store, schema } = await fresh()
        try {
          await store.migrate()
          const file = await heapFile(schema, 'key_materials')
          if (file === undefined) return t.skip('the server\'s data directory is not readable here')
          const ekt = randomBytes(96)
          const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1, currentKeyMaterialId: 'ab'.repeat(32) })
          await store.createKey(key, { keyId: key.keyId, keyMaterialId: 'ab'.repeat(32), ekt, createdAt: 1 })
          // Rows stored after it on the same page, as in any table that keeps growing.
          for (let i = 0; i < 3; i++) {
            const other = sampleKey()
            await store.createKey(other, { keyId: other.keyId, keyMaterialId: 'cd'.repeat(32), ekt: randomBytes(96), createdAt: 1 })
          }
          assert.ok((await checkpointed(file)).includes(ekt), 'the EKT should be in the table file before the deletion')
          assert.equal(await store.deleteKey(key), true)
          assert.equal((await checkpointed(file)).includes(ekt.subarray(0, 16)), false)
        } finally {
          await store.close()
        }
      })

      it('cannot remove it when it was the newest row of its page (documented limit)', async (t) => {
        const { store, schema } = await fresh()
        try {
          await store.migrate()
          const file = await heapFile(schema, 'key_materials')
          if (file === undefined) return t.skip('the server\'s data directory is not readable here')
          // Rows before it, so the page stays in use (VACUUM truncates empty pages off the end of the file).
          for (let i = 0; i < 3; i++) {
            const other = sampleKey()
            await store.createKey(other, { keyId: other.keyId, keyMaterialId: 'cd'.repeat(32), ekt: randomBytes(96), createdAt: 1 })
          }
          const ekt = randomBytes(96)
          const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1 })
          await store.createKey(key, { keyId: key.keyId, keyMaterialId: 'ab'.repeat(32), ekt, createdAt: 1 })
          assert.equal(await store.deleteKey(key), true)
          // Free space of the page, until a later row is written over it.
          assert.ok((await checkpointed(file)).includes(ekt))
        } finally {
          await store.close()
        }
      })
    })
  })
})
