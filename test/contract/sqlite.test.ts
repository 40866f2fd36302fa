import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { SQLITE_MIGRATIONS, migrateSqlite } from '../../src/store/sqlite/sqlite-migrations.js'
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js'
import type { KeyRecord, Store } from '../../src/store/store.js'
import { sampleKey, storeContract } from './store-contract.js'

const dir = mkdtempSync(join(tmpdir(), 'trent-sqlite-'))
after(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
const fileOf = new WeakMap<Store, string>()

function freshFile(): string {
  return join(dir, `store-${++files}.db`)
}

function openFile(file: string): SqliteStore {
  const store = new SqliteStore(new Database(file))
  fileOf.set(store, file)
  return store
}

storeContract('sqlite :memory:', async () => new SqliteStore(new Database(':memory:')))

storeContract('sqlite file', async () => openFile(freshFile()), {
  reopen: async (store) => {
    const file = fileOf.get(store)
    if (file === undefined) throw new Error('not a store this test opened')
    return openFile(file)
  },
})

describe('SqliteStore', () => {
  it('configures the connection: WAL, synchronous=FULL, busy timeout, foreign keys, secure delete', () => {
    const db = new Database(freshFile())
    try {
      new SqliteStore(db)
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.equal(db.pragma('synchronous', { simple: true }), 2)
      assert.equal(db.pragma('busy_timeout', { simple: true }), 5000)
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1)
      assert.equal(db.pragma('secure_delete', { simple: true }), 1)
    } finally {
      db.close()
    }
  })

  it('refuses to be used before migrate()', async () => {
    const store = new SqliteStore(new Database(':memory:'))
    try {
      await assert.rejects(store.getKey('x'), /call migrate\(\)/)
    } finally {
      await store.close()
    }
  })

  it('reports which migrations it applied, and none the second time', async () => {
    const store = new SqliteStore(new Database(':memory:'))
    try {
      assert.deepEqual(store.migrateWithReport(), { applied: SQLITE_MIGRATIONS.map((m) => m.name) })
      assert.deepEqual(store.migrateWithReport(), { applied: [] })
    } finally {
      await store.close()
    }
  })

  it('refuses a database migrated by a newer Trent, before and after the store was used', async () => {
    const file = freshFile()
    const db = new Database(file)
    const store = new SqliteStore(db)
    try {
      await store.migrate()
      db.prepare('INSERT INTO trent_migrations (name, applied_at) VALUES (?, ?)').run('9999-from-the-future', 0)
      await assert.rejects(store.migrate(), /newer Trent.*9999-from-the-future/)
      await assert.rejects(store.getKey('x'), /call migrate\(\)/)
    } finally {
      await store.close()
    }
    const again = new SqliteStore(new Database(file))
    try {
      await assert.rejects(again.migrate(), /newer Trent/)
      await assert.rejects(again.getSealedDomain(), /call migrate\(\)/)
    } finally {
      await again.close()
    }
  })

  it('refuses a history with a gap', () => {
    const db = new Database(':memory:')
    try {
      const one = { name: '0001-a', sql: 'CREATE TABLE a (x INTEGER) STRICT' }
      const two = { name: '0002-b', sql: 'CREATE TABLE b (x INTEGER) STRICT' }
      migrateSqlite(db, [two])
      assert.throws(() => migrateSqlite(db, [one, two]), /gap before 0001-a/)
    } finally {
      db.close()
    }
  })

  it('applies later migrations in order and rolls back a failing run as a whole', () => {
    const db = new Database(':memory:')
    try {
      const one = { name: '0001-a', sql: 'CREATE TABLE a (x INTEGER) STRICT' }
      const two = { name: '0002-b', sql: 'CREATE TABLE b (x INTEGER) STRICT' }
      const broken = { name: '0003-broken', sql: 'CREATE TABLE c (x INTEGER) STRICT; THIS IS NOT SQL' }
      assert.deepEqual(migrateSqlite(db, [one]), { applied: ['0001-a'] })
      assert.throws(() => migrateSqlite(db, [one, two, broken]))
      assert.equal(db.inTransaction, false)
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all()
      assert.deepEqual(tables, [{ name: 'a' }, { name: 'trent_migrations' }])
      assert.deepEqual(migrateSqlite(db, [one, two]), { applied: ['0002-b'] })
      assert.deepEqual(db.prepare('SELECT name FROM trent_migrations ORDER BY name').all(), [{ name: '0001-a' }, { name: '0002-b' }])
    } finally {
      db.close()
    }
  })

  it('resolves an alias stored in its table, scoped to account and region', async () => {
    const db = new Database(':memory:')
    const store = new SqliteStore(db)
    try {
      await store.migrate()
      const key = sampleKey()
      await store.createKey(key)
      db.prepare('INSERT INTO aliases (account_id, region, alias_name, key_id, creation_date, last_updated_date) VALUES (?, ?, ?, ?, 0, 0)')
        .run(key.accountId, key.region, 'alias/app', key.keyId)
      assert.equal(await store.getAliasTarget(key.accountId, key.region, 'alias/app'), key.keyId)
      assert.equal(await store.getAliasTarget('999999999999', key.region, 'alias/app'), undefined)
      assert.equal(await store.getAliasTarget(key.accountId, 'us-east-1', 'alias/app'), undefined)
      assert.equal(await store.getAliasTarget(key.accountId, key.region, 'alias/APP'), undefined)
    } finally {
      await store.close()
    }
  })

  it('enforces foreign keys: no alias or material for a key that does not exist', async () => {
    const db = new Database(':memory:')
    const store = new SqliteStore(db)
    try {
      await store.migrate()
      assert.throws(
        () => db.prepare("INSERT INTO aliases VALUES ('1', 'r', 'alias/x', 'no-such-key', 0, 0)").run(),
        /FOREIGN KEY/,
      )
      assert.throws(() => db.prepare("INSERT INTO key_materials (key_id, key_material_id, ekt, created_at) VALUES ('no-such-key', 'm', x'00', 0)").run(), /FOREIGN KEY/)
    } finally {
      await store.close()
    }
  })

  it('sees writes of another connection to the same file', async () => {
    const file = freshFile()
    const a = openFile(file)
    const b = openFile(file)
    try {
      await a.migrate()
      await b.migrate()
      const key = sampleKey()
      await a.createKey(key)
      assert.deepEqual(await b.getKey(key.keyId), key)
    } finally {
      await a.close()
      await b.close()
    }
  })

  describe('crypto-shredding', () => {
    /** Which 16-byte pieces of `secret` occur in the database file or its WAL. */
    function piecesOnDisk(file: string, secret: Buffer): string[] {
      const found: string[] = []
      for (const path of [file, `${file}-wal`]) {
        if (!existsSync(path)) continue
        const bytes = readFileSync(path)
        for (let i = 0; i + 16 <= secret.length; i += 16) {
          if (bytes.includes(secret.subarray(i, i + 16))) found.push(`${path} @${i}`)
        }
      }
      return found
    }

    /** Stores a key whose EKT is `ekt` in a file database, checkpointed so the EKT is in the main file. */
    async function storeCanary(ekt: Buffer): Promise<{ file: string; db: Database.Database; store: SqliteStore; key: KeyRecord }> {
      const file = freshFile()
      const db = new Database(file)
      const store = new SqliteStore(db)
      await store.migrate()
      const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1, currentKeyMaterialId: 'ab'.repeat(32) })
      await store.createKey(key, { keyId: key.keyId, keyMaterialId: 'ab'.repeat(32), ekt, createdAt: 1 })
      // Neighbours on the same page, so the page is rewritten rather than freed.
      for (let i = 0; i < 3; i++) {
        const other = sampleKey()
        await store.createKey(other, { keyId: other.keyId, keyMaterialId: 'cd'.repeat(32), ekt: randomBytes(64), createdAt: 1 })
      }
      db.pragma('wal_checkpoint(TRUNCATE)')
      return { file, db, store, key }
    }

    it('overwrites the EKTs of a deleted key in the database file', async () => {
      const ekt = randomBytes(96)
      const { file, db, store, key } = await storeCanary(ekt)
      try {
        assert.notDeepEqual(piecesOnDisk(file, ekt), [], 'the EKT should be on disk before the deletion')
        assert.equal(await store.deleteKey(key), true)
        db.pragma('wal_checkpoint(TRUNCATE)')
      } finally {
        await store.close()
      }
      assert.deepEqual(piecesOnDisk(file, ekt), [])
    })

    it('leaves no copy of the EKT in the WAL, without a checkpoint of the caller and while still open', async () => {
      const ekt = randomBytes(96)
      const file = freshFile()
      const store = openFile(file)
      try {
        await store.migrate()
        const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1 })
        await store.createKey(key, { keyId: key.keyId, keyMaterialId: 'ab'.repeat(32), ekt, createdAt: 1 })
        await store.createKey(sampleKey())
        assert.notDeepEqual(piecesOnDisk(file, ekt), [], 'the EKT should be in the WAL before the deletion')
        assert.equal(await store.deleteKey(key), true)
        assert.deepEqual(piecesOnDisk(file, ekt), [])
        // The store goes on working after the WAL was truncated under it.
        await store.createKey(sampleKey())
      } finally {
        await store.close()
      }
    })

    it('would leave the EKT on disk without secure_delete (the check above can fail)', async () => {
      const ekt = randomBytes(96)
      const { file, db, store, key } = await storeCanary(ekt)
      try {
        db.pragma('secure_delete = OFF')
        assert.equal(await store.deleteKey(key), true)
        db.pragma('wal_checkpoint(TRUNCATE)')
      } finally {
        await store.close()
      }
      assert.notDeepEqual(piecesOnDisk(file, ekt), [])
    })
  })

  it('upgrades a database of the first release, keeping its keys and aliases', async () => {
    const file = freshFile()
    const old = new Database(file)
    const key = sampleKey()
    try {
      migrateSqlite(old, SQLITE_MIGRATIONS.slice(0, 1))
      // Plain SQL, because this release's store would bring the schema up to date before writing.
      old.prepare(
        `INSERT INTO keys (key_id, arn, account_id, region, creation_date, description, key_usage, key_spec, origin,
          key_state, key_manager, multi_region, policy, tags, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '[]', 1)`,
      ).run(key.keyId, key.arn, key.accountId, key.region, key.creationDate, key.description, key.keyUsage, key.keySpec,
        key.origin, key.keyState, key.keyManager, key.policy)
      old.prepare('INSERT INTO aliases VALUES (?, ?, ?, ?, 5, 6)').run(key.accountId, key.region, 'alias/old', key.keyId)
    } finally {
      old.close()
    }
    const store = new SqliteStore(new Database(file))
    try {
      assert.deepEqual(store.migrateWithReport(), { applied: ['0002-lifecycle', '0003-grants', '0004-iam-users', '0005-iam-roles', '0006-key-material-lifecycle', '0007-key-last-usage', '0008-iam-role-settings', '0009-canary-contexts', '0010-iam-tags', '0011-role-session-tags'] })
      assert.deepEqual(await store.getKey(key.keyId), key)
      assert.deepEqual(await store.getAlias(key.accountId, key.region, 'alias/old'), {
        accountId: key.accountId,
        region: key.region,
        aliasName: 'alias/old',
        targetKeyId: key.keyId,
        creationDate: 5,
        lastUpdatedDate: 6,
      })
      assert.deepEqual((await store.listAliases(key.accountId, key.region, { keyId: key.keyId, limit: 10 })).aliases.length, 1)
      assert.equal(await store.acquireLease('deletion', 'node-a', 1, 1000), true)
    } finally {
      await store.close()
    }
  })
})
