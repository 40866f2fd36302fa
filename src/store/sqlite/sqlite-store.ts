import { createHash } from 'node:crypto'
import { KmsError } from '../../core/errors.js'
import type { KeySpec, KeyState, KeyUsage, Origin } from '../../core/types.js'
import {
  StoreConflictError,
  type CredentialRecord,
  type KeyMaterialRecord,
  type KeyPage,
  type KeyRecord,
  type Store,
  type Tag,
} from '../store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-config.js'
import { migrateSqlite, type SqliteMigrationReport } from './sqlite-migrations.js'

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000

interface KeyRow {
  seq: number
  key_id: string
  arn: string
  account_id: string
  region: string
  creation_date: number
  description: string
  key_usage: string
  key_spec: string
  origin: string
  key_state: string
  key_manager: string
  multi_region: number
  current_key_material_id: string | null
  deletion_date: number | null
  pending_window_in_days: number | null
  policy: string
  tags: string
  version: number
}

interface KeyMaterialRow {
  key_id: string
  key_material_id: string
  ekt: Uint8Array
  created_at: number
}

interface CredentialRow {
  access_key_id: string
  account_id: string
  principal_arn: string
  wrapped_secret: Uint8Array
  created_at: number
}

const KEY_COLUMNS =
  'seq, key_id, arn, account_id, region, creation_date, description, key_usage, key_spec, origin, key_state, ' +
  'key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags, version'

function prepareAll(db: SqliteDatabase) {
  const p = (sql: string): SqliteStatement => db.prepare(sql)
  return {
    begin: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
    getDomain: p('SELECT sealed FROM domain WHERE id = 1'),
    initDomain: p('INSERT INTO domain (id, sealed) VALUES (1, ?) ON CONFLICT (id) DO NOTHING'),
    insertKey: p(`INSERT INTO keys (
        key_id, arn, account_id, region, creation_date, description, key_usage, key_spec, origin, key_state,
        key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags, version
      ) VALUES (
        @keyId, @arn, @accountId, @region, @creationDate, @description, @keyUsage, @keySpec, @origin, @keyState,
        @keyManager, @multiRegion, @currentKeyMaterialId, @deletionDate, @pendingWindowInDays, @policy, @tags, @version
      )`),
    updateKey: p(`UPDATE keys SET
        arn = @arn, account_id = @accountId, region = @region, creation_date = @creationDate,
        description = @description, key_usage = @keyUsage, key_spec = @keySpec, origin = @origin,
        key_state = @keyState, key_manager = @keyManager, multi_region = @multiRegion,
        current_key_material_id = @currentKeyMaterialId, deletion_date = @deletionDate,
        pending_window_in_days = @pendingWindowInDays, policy = @policy, tags = @tags, version = @version
      WHERE key_id = @keyId AND version = @version - 1`),
    keyVersion: p('SELECT version FROM keys WHERE key_id = ?'),
    getKey: p(`SELECT ${KEY_COLUMNS} FROM keys WHERE key_id = ?`),
    listKeys: p(`SELECT ${KEY_COLUMNS} FROM keys WHERE account_id = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?`),
    insertMaterial: p('INSERT INTO key_materials (key_id, key_material_id, ekt, created_at) VALUES (?, ?, ?, ?)'),
    getMaterial: p('SELECT key_id, key_material_id, ekt, created_at FROM key_materials WHERE key_id = ? AND key_material_id = ?'),
    getAliasTarget: p('SELECT key_id FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?'),
    putCredential: p(`INSERT INTO credentials (access_key_id, account_id, principal_arn, wrapped_secret, created_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (access_key_id) DO NOTHING`),
    getCredential: p('SELECT access_key_id, account_id, principal_arn, wrapped_secret, created_at FROM credentials WHERE access_key_id = ?'),
  }
}

type Statements = ReturnType<typeof prepareAll>

/**
 * The embedded {@link Store}: one SQLite database file (or `:memory:`), opened by the caller with
 * better-sqlite3 and handed in. Call {@link SqliteStore.migrate} before anything else.
 *
 * @example
 * ```ts
 * const store = new SqliteStore(new Database(join(dataDir, 'trent.db')))
 * await store.migrate()
 * ```
 */
export class SqliteStore implements Store {
  readonly #db: SqliteDatabase
  #statements: Statements | undefined

  /** Configures the connection (WAL, synchronous=FULL, busy timeout, foreign keys); touches no tables. */
  constructor(db: SqliteDatabase) {
    this.#db = db
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal' && !(db.memory && mode === 'memory')) {
      throw new Error(`SQLite refused WAL journal mode (got ${String(mode)}); is the file on a network file system?`)
    }
    // FULL, not NORMAL: under WAL, NORMAL keeps the database consistent but may lose the last commits
    // on power loss or an OS crash. A lost CreateKey would leave the caller with ciphertexts that no
    // key can decrypt, and writes are rare next to Encrypt/Decrypt, so the extra fsync is cheap.
    db.pragma('synchronous = FULL', { simple: true })
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`, { simple: true })
    db.pragma('foreign_keys = ON', { simple: true })
  }

  /** {@inheritDoc Store.migrate} */
  async migrate(): Promise<void> {
    this.migrateWithReport()
  }

  /** Like {@link SqliteStore.migrate}, but says which migrations it applied (for `trent migrate`). */
  migrateWithReport(): SqliteMigrationReport {
    // A refused migration leaves the store unusable rather than running on a schema it does not know.
    this.#statements = undefined
    const report = migrateSqlite(this.#db)
    this.#statements = prepareAll(this.#db)
    return report
  }

  async getSealedDomain(): Promise<Uint8Array | undefined> {
    const row = this.#sql().getDomain.get() as { sealed: Uint8Array } | undefined
    return row === undefined ? undefined : copy(row.sealed)
  }

  async initSealedDomain(sealed: Uint8Array): Promise<boolean> {
    return this.#sql().initDomain.run(sealed).changes === 1
  }

  async createKey(key: KeyRecord, material?: KeyMaterialRecord): Promise<void> {
    if (material !== undefined && material.keyId !== key.keyId) {
      throw new Error(`key material of ${material.keyId} given to create key ${key.keyId}`)
    }
    const sql = this.#sql()
    this.#transaction(() => {
      try {
        sql.insertKey.run(keyParams(key))
      } catch (e) {
        if (sqliteCode(e) === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new StoreConflictError(`key ${key.keyId} exists already`, { cause: e })
        }
        throw e
      }
      if (material !== undefined) {
        sql.insertMaterial.run(material.keyId, material.keyMaterialId, material.ekt, material.createdAt)
      }
    })
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = this.#sql().getKey.get(keyId) as KeyRow | undefined
    return row === undefined ? undefined : toKey(row)
  }

  async updateKey(key: KeyRecord): Promise<void> {
    const sql = this.#sql()
    if (sql.updateKey.run(keyParams(key)).changes === 1) return
    const stored = sql.keyVersion.get(key.keyId) as { version: number } | undefined
    throw new StoreConflictError(
      stored === undefined
        ? `key ${key.keyId} does not exist`
        : `key ${key.keyId} is at version ${stored.version}, not ${key.version - 1}`,
    )
  }

  async listKeys(accountId: string, region: string, limit: number, after?: string): Promise<KeyPage> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
    const afterSeq = after === undefined ? 0 : decodeMarker(accountId, region, after)
    const rows = this.#sql().listKeys.all(accountId, region, afterSeq, limit + 1) as KeyRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      keys: page.map(toKey),
      ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(accountId, region, last.seq) } : {}),
    }
  }

  async getKeyMaterial(keyId: string, keyMaterialId: string): Promise<KeyMaterialRecord | undefined> {
    const row = this.#sql().getMaterial.get(keyId, keyMaterialId) as KeyMaterialRow | undefined
    return row === undefined
      ? undefined
      : { keyId: row.key_id, keyMaterialId: row.key_material_id, ekt: copy(row.ekt), createdAt: row.created_at }
  }

  async getAliasTarget(accountId: string, region: string, aliasName: string): Promise<string | undefined> {
    const row = this.#sql().getAliasTarget.get(accountId, region, aliasName) as { key_id: string } | undefined
    return row?.key_id
  }

  async putCredential(credential: CredentialRecord): Promise<boolean> {
    const c = credential
    return this.#sql().putCredential.run(c.accessKeyId, c.accountId, c.principalArn, c.wrappedSecret, c.createdAt).changes === 1
  }

  async getCredential(accessKeyId: string): Promise<CredentialRecord | undefined> {
    const row = this.#sql().getCredential.get(accessKeyId) as CredentialRow | undefined
    return row === undefined
      ? undefined
      : {
          accessKeyId: row.access_key_id,
          accountId: row.account_id,
          principalArn: row.principal_arn,
          wrappedSecret: copy(row.wrapped_secret),
          createdAt: row.created_at,
        }
  }

  async close(): Promise<void> {
    this.#statements = undefined
    this.#db.close()
  }

  #sql(): Statements {
    // Preparing needs the tables, and using a database that migrate() has not checked could mean
    // writing to a schema from a newer Trent.
    if (this.#statements === undefined) throw new Error('SqliteStore: call migrate() before using the store')
    return this.#statements
  }

  #transaction(body: () => void): void {
    const sql = this.#sql()
    sql.begin.run()
    try {
      body()
      sql.commit.run()
    } catch (e) {
      if (this.#db.inTransaction) sql.rollback.run()
      throw e
    }
  }
}

function keyParams(key: KeyRecord): Record<string, unknown> {
  return {
    keyId: key.keyId,
    arn: key.arn,
    accountId: key.accountId,
    region: key.region,
    creationDate: key.creationDate,
    description: key.description,
    keyUsage: key.keyUsage,
    keySpec: key.keySpec,
    origin: key.origin,
    keyState: key.keyState,
    keyManager: key.keyManager,
    multiRegion: key.multiRegion ? 1 : 0,
    currentKeyMaterialId: key.currentKeyMaterialId ?? null,
    deletionDate: key.deletionDate ?? null,
    pendingWindowInDays: key.pendingWindowInDays ?? null,
    policy: key.policy,
    tags: JSON.stringify(key.tags.map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue }))),
    version: key.version,
  }
}

function toKey(r: KeyRow): KeyRecord {
  return {
    keyId: r.key_id,
    arn: r.arn,
    accountId: r.account_id,
    region: r.region,
    creationDate: r.creation_date,
    description: r.description,
    keyUsage: r.key_usage as KeyUsage,
    keySpec: r.key_spec as KeySpec,
    origin: r.origin as Origin,
    keyState: r.key_state as KeyState,
    keyManager: r.key_manager as KeyRecord['keyManager'],
    multiRegion: r.multi_region === 1,
    ...(r.current_key_material_id === null ? {} : { currentKeyMaterialId: r.current_key_material_id }),
    ...(r.deletion_date === null ? {} : { deletionDate: r.deletion_date }),
    ...(r.pending_window_in_days === null ? {} : { pendingWindowInDays: r.pending_window_in_days }),
    policy: r.policy,
    tags: JSON.parse(r.tags) as Tag[],
    version: r.version,
  }
}

/** A plain Uint8Array that owns its bytes, so no caller holds a view into a driver's Buffer. */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

function sqliteCode(e: unknown): unknown {
  return typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined
}

const MARKER_LENGTH = 22
const MARKER_TAG = 'trent/list-keys-marker/v1\0'

/**
 * 8 bytes of SHA-256 over the listing and position. Not a MAC: it rejects garbage, truncated or edited
 * markers and markers of another account or region. A forged marker gains nothing, because the
 * query is scoped to the caller's account and region anyway.
 */
function markerCheck(accountId: string, region: string, seq: Buffer): Buffer {
  return createHash('sha256').update(`${MARKER_TAG}${accountId}\0${region}\0`).update(seq).digest().subarray(0, 8)
}

function encodeMarker(accountId: string, region: string, seq: number): string {
  const position = Buffer.alloc(8)
  position.writeBigUInt64BE(BigInt(seq))
  return Buffer.concat([position, markerCheck(accountId, region, position)]).toString('base64url')
}

function decodeMarker(accountId: string, region: string, marker: string): number {
  const bytes = /^[A-Za-z0-9_-]+$/.test(marker) && marker.length === MARKER_LENGTH ? Buffer.from(marker, 'base64url') : undefined
  // The re-encoding check refuses the few strings that decode to the same bytes as an issued marker.
  if (bytes === undefined || bytes.length !== 16 || bytes.toString('base64url') !== marker) throw invalidMarker()
  const position = bytes.subarray(0, 8)
  if (!bytes.subarray(8).equals(markerCheck(accountId, region, position))) throw invalidMarker()
  const seq = position.readBigUInt64BE()
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidMarker()
  return Number(seq)
}

function invalidMarker(): KmsError {
  return new KmsError('InvalidMarkerException', 'Invalid marker')
}
