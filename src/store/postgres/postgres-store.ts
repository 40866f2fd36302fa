import { KmsError } from '../../core/errors.js'
import type { KeySpec, KeyState, KeyUsage, Origin } from '../../core/types.js'
import {
  aliasMarkerScope,
  decodeAliasName,
  decodeMarker,
  decodeSeq,
  encodeAliasName,
  encodeMarker,
  encodeSeq,
  keyMarkerScope,
} from '../list-markers.js'
import {
  StoreConflictError,
  type AliasPage,
  type AliasRecord,
  type CanaryContextRecord,
  type CredentialRecord,
  type GrantPage,
  type IamTag,
  type IamUserRecord,
  type IamRoleRecord,
  type RolePolicyRecord,
  type RoleSessionRecord,
  type UserPolicyRecord,
  type GrantRecord,
  type ImportTokenRecord,
  type KeyMaterialRecord,
  type KeyPage,
  type KeyRecord,
  type KeyUsageRecord,
  type Store,
  type StoreChangeListener,
  type Tag,
} from '../store.js'
import { toUsage, type UsageRow } from '../key-usage-rows.js'
import type { PgListenClient, PgPool, PgQueryable, PgQueryResult } from './postgres-config.js'
import { migratePostgres, type PostgresMigrationReport } from './postgres-migrations.js'
import { pgCountGrants, pgCreateGrant, pgDeleteGrant, pgGetGrant, pgGrantByToken, pgListGrants, pgListRetirableGrants } from './postgres-grants.js'
import { sessionTagsFromColumn, tagsColumn, tagsFromColumn } from '../iam-tag-rows.js'
import { PostgresChangeFeed, notifyAccessKeySql, notifyAliasSql, notifyKeySql, notifyPrincipalSql } from './postgres-notifications.js'
import {
  KEY_LIFECYCLE_COLUMNS,
  MATERIAL_COLUMNS,
  keyLifecycleFields,
  keyLifecycleValues,
  materialValues,
  toMaterial,
  type KeyLifecycleRow,
  type MaterialRow,
} from '../lifecycle-columns.js'

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * Where the store reports that PostgreSQL became unreachable (once per outage, not once per
   * request) and that it is back. Default: stderr.
   */
  log?: (message: string) => void
  /**
   * Makes a new, unconnected client (as `() => new pg.Client(config)`, with the pool's connection
   * settings) for the one connection that LISTENs for changes made through other nodes. When given,
   * the store offers {@link PostgresStore.subscribe}. Writes NOTIFY either way.
   */
  listenClient?: () => PgListenClient
}

/** Column values as pg returns them: bigint columns come as strings, integer as numbers. */
type PgInt = string | number

interface KeyRow extends KeyLifecycleRow {
  key_id: string
  list_position: PgInt
  arn: string
  account_id: string
  region: string
  creation_date: PgInt
  description_json: string
  key_usage: string
  key_spec: string
  origin: string
  key_state: string
  key_manager: string
  multi_region: boolean
  current_key_material_id: string | null
  deletion_date: PgInt | null
  pending_window_in_days: PgInt | null
  policy: string
  tags: string
  version: PgInt
}

interface AliasRow {
  account_id: string
  region: string
  alias_name: string
  key_id: string
  creation_date: PgInt
  last_updated_date: PgInt
}

interface UserRow {
  account_id: string
  user_name: string
  user_id: string
  arn: string
  path: string
  created_at: PgInt
  tags: string
}

interface UserPolicyRow {
  account_id: string
  user_name: string
  policy_name: string
  document: string
}

const CREDENTIAL_COLUMNS = 'access_key_id, account_id, principal_arn, wrapped_secret, created_at, user_name'
const USER_COLUMNS = 'account_id, user_name, user_id, arn, path, created_at, tags'

interface CredentialRow {
  user_name: string | null
  access_key_id: string
  account_id: string
  principal_arn: string
  wrapped_secret: Uint8Array
  created_at: PgInt
}

const KEY_COLUMNS =
  'key_id, list_position, arn, account_id, region, creation_date, description_json, key_usage, key_spec, origin, key_state, ' +
  'key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags, version, ' +
  KEY_LIFECYCLE_COLUMNS.join(', ')
const MATERIAL_SELECT = MATERIAL_COLUMNS.join(', ')
const MATERIAL_PLACEHOLDERS = MATERIAL_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')
/** `$19, $20, …` for the lifecycle columns, after keyParams' first 18. */
const LIFECYCLE_PLACEHOLDERS = KEY_LIFECYCLE_COLUMNS.map((_, i) => `$${19 + i}`)
const KEY_PARAM_COUNT = 18 + KEY_LIFECYCLE_COLUMNS.length

const ALIAS_COLUMNS = 'account_id, region, alias_name, key_id, creation_date, last_updated_date'

/** Reports an alias change, for the rows an alias write RETURNs. */
const ALIAS_NOTIFY = notifyAliasSql('account_id', 'region', 'alias_name')
const USER_NOTIFY = notifyPrincipalSql('u', 'account_id', 'user_name')
const ROLE_NOTIFY = notifyPrincipalSql('r', 'account_id', 'role_name')

/** SQLSTATEs of a connection that is gone or cannot be had: class 08, admin/crash shutdown, starting up, too many clients. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** SQLSTATEs of a statement that ran out of time: statement_timeout (or a cancel), lock_timeout. */
const TIMEOUT_SQLSTATES = new Set(['57014', '55P03'])
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

/**
 * The shared {@link Store}: PostgreSQL through a node-postgres pool that the caller creates and hands
 * in (the store ends it in {@link PostgresStore.close}). Several Trent nodes may use one database at
 * once; call {@link PostgresStore.migrate} before anything else.
 *
 * Concurrency: every write is one statement or one READ COMMITTED transaction whose conditions are
 * checked under the row locks it takes, so concurrent writers on different nodes never lose an
 * update. `updateKey` writes only if the row still has the previous version (the second of two
 * writers waits for the first's row lock, then finds the version changed); `deleteKey` locks the key
 * row (`FOR UPDATE`) before checking it; `createKey` locks its account and region's list counter;
 * leases, aliases, credentials and the sealed domain are single upserts or conditional inserts.
 *
 * Failures: when PostgreSQL cannot be reached (refused, reset, restarting, shutting down), or a
 * statement hits `statement_timeout` or `lock_timeout`, a call rejects with
 * `KmsError('DependencyTimeoutException')`, which the API answers with HTTP 503 and AWS SDKs retry; the pool replaces dead connections by itself, so calls succeed again once the
 * server is back. A call whose COMMIT was cut off may or may not have taken effect; nothing
 * acknowledged is lost.
 *
 * Change reports: `updateKey`, `deleteKey`, `createAlias`, `updateAlias` and `deleteAlias` send a
 * NOTIFY (see postgres-notifications.ts) in the statement or transaction of the write, so every
 * store on the database hears of a change once it has committed, and never of one rolled back.
 * With the `listenClient` option the store offers {@link PostgresStore.subscribe}.
 *
 * @example
 * ```ts
 * const store = new PostgresStore(new pg.Pool({ connectionString: 'postgres://trent@db/trent' }))
 * await store.migrate()
 * ```
 */
export class PostgresStore implements Store {
  readonly #pool: PgPool
  readonly #log: (message: string) => void
  #migrated = false
  /** Set while PostgreSQL is unreachable, so an outage is logged once. */
  #unavailableSince: number | undefined
  readonly #listeners = new Set<{ listener: StoreChangeListener }>()
  /** The LISTEN connection, while anyone subscribes. */
  #feed: PostgresChangeFeed | undefined
  /** Feeds being stopped (the last subscriber left); close() waits for them. */
  readonly #stopping = new Set<Promise<void>>()

  /**
   * Calls `listener` with every change committed through any store on this database and schema
   * (this one included), usually within milliseconds; see {@link Store.subscribe}. Present only
   * when the `listenClient` option was given. The first subscriber opens the LISTEN connection,
   * which reconnects with backoff whenever it is lost; the last one to leave closes it.
   */
  readonly subscribe?: (listener: StoreChangeListener) => () => void

  /** Registers the pool's 'error' listener (a dead idle connection must not crash the process); runs no query. */
  constructor(pool: PgPool, options: PostgresStoreOptions = {}) {
    this.#pool = pool
    this.#log = options.log ?? ((m) => process.stderr.write(`${m}\n`))
    pool.on('error', (e) => this.#unavailable(e))
    const listenClient = options.listenClient
    if (listenClient !== undefined) this.subscribe = (listener) => this.#subscribe(listenClient, listener)
  }

  /**
   * {@inheritDoc Store.migrate} When someone has subscribed already, it also waits for the first
   * attempt to LISTEN (which is retried in the background if it fails), so a node starts serving
   * with its change feed in place.
   */
  async migrate(): Promise<void> {
    await this.migrateWithReport()
    await this.#feed?.ready()
  }

  #subscribe(listenClient: () => PgListenClient, listener: StoreChangeListener): () => void {
    // A wrapper of its own, so one function subscribed twice is two subscriptions.
    const entry = { listener }
    this.#listeners.add(entry)
    if (this.#feed === undefined) {
      this.#feed = new PostgresChangeFeed({
        connect: listenClient,
        log: this.#log,
        onChange: (change) => {
          for (const { listener: l } of [...this.#listeners]) {
            try {
              l(change)
            } catch (e) {
              this.#log(`trent: a store change listener failed: ${message(e)}`)
            }
          }
        },
      })
      this.#feed.start()
    }
    return () => {
      if (!this.#listeners.delete(entry) || this.#listeners.size > 0 || this.#feed === undefined) return
      const stopped = this.#feed.stop()
      this.#feed = undefined
      this.#stopping.add(stopped)
      void stopped.finally(() => this.#stopping.delete(stopped))
    }
  }

  /** Like {@link PostgresStore.migrate}, but says which migrations it applied. */
  async migrateWithReport(): Promise<PostgresMigrationReport> {
    // A refused migration leaves the store unusable rather than running on a schema it does not know.
    this.#migrated = false
    const report = await migratePostgres(this.#pool)
    this.#migrated = true
    return report
  }

  async getSealedDomain(): Promise<Uint8Array | undefined> {
    const row = (await this.#query('SELECT sealed FROM domain WHERE id = 1')).rows[0] as { sealed: Uint8Array } | undefined
    return row === undefined ? undefined : copy(row.sealed)
  }

  async initSealedDomain(sealed: Uint8Array): Promise<boolean> {
    const result = await this.#query('INSERT INTO domain (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [bytea(sealed)])
    return result.rowCount === 1
  }

  async createKey(key: KeyRecord, material?: KeyMaterialRecord): Promise<void> {
    if (material !== undefined && material.keyId !== key.keyId) {
      throw new Error(`key material of ${material.keyId} given to create key ${key.keyId}`)
    }
    await this.#transaction(async (tx) => {
      // The counter row stays locked until COMMIT, so CreateKeys of one account and region take
      // their list positions in commit order (see POSTGRES_MIGRATIONS).
      const counter = await tx.query(
        `INSERT INTO key_list_positions (account_id, region, last_position) VALUES ($1, $2, 1)
         ON CONFLICT (account_id, region) DO UPDATE SET last_position = key_list_positions.last_position + 1
         RETURNING last_position`,
        [key.accountId, key.region],
      )
      const position = int((counter.rows[0] as { last_position: PgInt }).last_position)
      try {
        await tx.query(
          `INSERT INTO keys (
             key_id, arn, account_id, region, creation_date, description_json, key_usage, key_spec, origin, key_state,
             key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags,
             version, ${KEY_LIFECYCLE_COLUMNS.join(', ')}, list_position
           ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             ${LIFECYCLE_PLACEHOLDERS.join(', ')}, $${KEY_PARAM_COUNT + 1})`,
          [...keyParams(key), position],
        )
      } catch (e) {
        if (sqlState(e) === '23505') throw new StoreConflictError(`key ${key.keyId} exists already`, { cause: e })
        throw e
      }
      if (material !== undefined) {
        await tx.query(`INSERT INTO key_materials (${MATERIAL_SELECT}) VALUES (${MATERIAL_PLACEHOLDERS})`, materialValues(material, bytea))
      }
    })
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = (await this.#query(`SELECT ${KEY_COLUMNS} FROM keys WHERE key_id = $1`, [keyId])).rows[0] as KeyRow | undefined
    return row === undefined ? undefined : toKey(row)
  }

  async updateKey(key: KeyRecord): Promise<void> {
    // One statement: a concurrent writer's row lock makes this wait, and PostgreSQL then re-checks
    // the version on the row as that writer left it (READ COMMITTED), so one of them fails. The
    // change report goes out with the statement's (autocommit) transaction, only if a row changed.
    const result = await this.#query(UPDATE_KEY_SQL, [...keyParams(key), key.version - 1])
    if (result.rowCount === 1) return
    throw await conflict(this.#pool, key)
  }

  /** See {@link Store.putKeyMaterials}: the key update and the material upserts in one transaction. */
  async putKeyMaterials(key: KeyRecord, materials: readonly KeyMaterialRecord[]): Promise<void> {
    if (materials.some((m) => m.keyId !== key.keyId)) throw new Error(`key material of another key given to update key ${key.keyId}`)
    await this.#transaction(async (tx) => {
      const result = await tx.query(UPDATE_KEY_SQL, [...keyParams(key), key.version - 1])
      if (result.rowCount !== 1) throw await conflict(tx, key)
      for (const m of materials) {
        await tx.query(
          `INSERT INTO key_materials (${MATERIAL_SELECT}) VALUES (${MATERIAL_PLACEHOLDERS})
           ON CONFLICT (key_id, key_material_id) DO UPDATE SET
           ${MATERIAL_COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(', ')}`,
          materialValues(m, bytea),
        )
      }
    })
  }

  async listKeyMaterials(keyId: string): Promise<KeyMaterialRecord[]> {
    const rows = (await this.#query(`SELECT ${MATERIAL_SELECT} FROM key_materials WHERE key_id = $1 ORDER BY created_at, key_material_id`, [keyId])).rows
    return (rows as MaterialRow[]).map((r) => toMaterial(r, int))
  }

  async keysDueForRotation(now: number, limit: number): Promise<KeyRecord[]> {
    checkLimit(limit)
    const rows = (
      await this.#query(
        `SELECT ${KEY_COLUMNS} FROM keys
         WHERE key_state = 'Enabled' AND next_rotation_date IS NOT NULL AND next_rotation_date <= $1
         ORDER BY next_rotation_date, seq LIMIT $2`,
        [now, limit],
      )
    ).rows as KeyRow[]
    return rows.map(toKey)
  }

  async materialsDueForExpiry(now: number, limit: number): Promise<KeyMaterialRecord[]> {
    checkLimit(limit)
    const rows = (
      await this.#query(
        `SELECT ${MATERIAL_SELECT} FROM key_materials
         WHERE import_state = 'IMPORTED' AND valid_to IS NOT NULL AND valid_to <= $1
         ORDER BY valid_to, key_id, key_material_id LIMIT $2`,
        [now, limit],
      )
    ).rows as MaterialRow[]
    return rows.map((r) => toMaterial(r, int))
  }

  async putImportToken(token: ImportTokenRecord): Promise<void> {
    try {
      await this.#query(
        `INSERT INTO import_tokens (token_hash, key_id, wrapping_key_spec, wrapping_algorithm, wrapped_private_key, valid_to)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [bytea(token.tokenHash), token.keyId, token.wrappingKeySpec, token.wrappingAlgorithm, bytea(token.wrappedPrivateKey), token.validTo],
      )
    } catch (e) {
      throw missingTarget(e, token.keyId)
    }
  }

  async getImportToken(tokenHash: Uint8Array): Promise<ImportTokenRecord | undefined> {
    const r = (
      await this.#query(
        `SELECT token_hash, key_id, wrapping_key_spec, wrapping_algorithm, wrapped_private_key, valid_to
         FROM import_tokens WHERE token_hash = $1`,
        [bytea(tokenHash)],
      )
    ).rows[0] as
      | { token_hash: Uint8Array; key_id: string; wrapping_key_spec: string; wrapping_algorithm: string; wrapped_private_key: Uint8Array; valid_to: PgInt }
      | undefined
    return r === undefined
      ? undefined
      : {
          tokenHash: copy(r.token_hash),
          keyId: r.key_id,
          wrappingKeySpec: r.wrapping_key_spec,
          wrappingAlgorithm: r.wrapping_algorithm,
          wrappedPrivateKey: copy(r.wrapped_private_key),
          validTo: int(r.valid_to),
        }
  }

  async deleteImportToken(tokenHash: Uint8Array): Promise<boolean> {
    return (await this.#query('DELETE FROM import_tokens WHERE token_hash = $1', [bytea(tokenHash)])).rowCount === 1
  }

  async deleteExpiredImportTokens(now: number): Promise<number> {
    return (await this.#query('DELETE FROM import_tokens WHERE valid_to <= $1', [now])).rowCount ?? 0
  }

  /**
   * See {@link Store.listKeys}: keys in the order they were created (committed) in their account and
   * region. A marker holds the last key's list position, which is never reused, so a listing picks
   * up keys created meanwhile and is not disturbed by keys deleted meanwhile.
   */
  async listKeys(accountId: string, region: string, limit: number, after?: string): Promise<KeyPage> {
    checkLimit(limit)
    const scope = keyMarkerScope(accountId, region)
    const afterPosition = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
    const rows = (
      await this.#query(
        `SELECT ${KEY_COLUMNS} FROM keys
         WHERE account_id = $1 AND region = $2 AND list_position > $3 ORDER BY list_position LIMIT $4`,
        [accountId, region, afterPosition, limit + 1],
      )
    ).rows as KeyRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      keys: page.map(toKey),
      ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(scope, encodeSeq(int(last.list_position))) } : {}),
    }
  }

  async getKeyMaterial(keyId: string, keyMaterialId: string): Promise<KeyMaterialRecord | undefined> {
    const row = (
      await this.#query(`SELECT ${MATERIAL_SELECT} FROM key_materials WHERE key_id = $1 AND key_material_id = $2`, [keyId, keyMaterialId])
    ).rows[0] as MaterialRow | undefined
    return row === undefined ? undefined : toMaterial(row, int)
  }

  async getAliasTarget(accountId: string, region: string, aliasName: string): Promise<string | undefined> {
    const row = (
      await this.#query('SELECT key_id FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3', [accountId, region, aliasName])
    ).rows[0] as { key_id: string } | undefined
    return row?.key_id
  }

  /**
   * Destroys a PendingDeletion key still at `key.version` with its materials and aliases, in one
   * transaction that holds the key row's lock (`FOR UPDATE`) from the check to the end, so of two
   * nodes deleting at once exactly one does it; see {@link Store.deleteKey}.
   *
   * Crypto-shredding, as far as PostgreSQL allows: it has no secure delete, and an UPDATE cannot
   * overwrite the EKT either (MVCC writes a new row version and leaves the old one in place, exactly
   * like a DELETE does), so the rows are deleted and then `VACUUM key_materials` runs, best effort,
   * to remove the dead rows from the table and its index at once rather than whenever autovacuum
   * gets to them. Pruning compacts the page, which overwrites the EKT's bytes with the rows stored
   * after it on that page; an EKT that was the newest row of its page stays in the page's free space
   * until a later insert reuses it. Copies also remain in the write-ahead log until its segments are
   * recycled and overwritten, and in WAL archives, replicas and backups. VACUUM does not remove rows
   * that an open transaction (of any database of the cluster) may still see. docs/architecture.md
   * has the full account.
   */
  async deleteKey(key: KeyRecord): Promise<boolean> {
    const deleted = await this.#transaction(async (tx) => {
      const stored = (await tx.query('SELECT version, key_state FROM keys WHERE key_id = $1 FOR UPDATE', [key.keyId])).rows[0] as
        | { version: PgInt; key_state: string }
        | undefined
      if (stored === undefined || int(stored.version) !== key.version || stored.key_state !== 'PendingDeletion') return false
      // Explicit rather than relying on ON DELETE CASCADE, as in the SQLite store.
      await tx.query('DELETE FROM key_materials WHERE key_id = $1', [key.keyId])
      await tx.query('DELETE FROM import_tokens WHERE key_id = $1', [key.keyId])
      await tx.query('DELETE FROM aliases WHERE key_id = $1', [key.keyId])
      await tx.query('DELETE FROM key_last_usage WHERE key_id = $1', [key.keyId])
      await tx.query('DELETE FROM keys WHERE key_id = $1', [key.keyId])
      // Delivered at COMMIT; the aliases and material go with the key in every reader's cache.
      await tx.query(`SELECT ${notifyKeySql('$1::text')}`, [key.keyId])
      return true
    })
    if (deleted) {
      try {
        await this.#pool.query('VACUUM key_materials')
      } catch (e) {
        // The deletion is committed; the dead rows go at the next (auto)vacuum instead.
        this.#log(`trent: VACUUM key_materials after deleting key ${key.keyId} failed: ${message(e)}`)
      }
    }
    return deleted
  }

  /** See {@link Store.keysDueForDeletion}; keys with the same deletionDate come in creation order. */
  async keysDueForDeletion(now: number, limit: number): Promise<KeyRecord[]> {
    checkLimit(limit)
    // The literal state (not a parameter) lets PostgreSQL use the partial index keys_due_for_deletion.
    const rows = (
      await this.#query(
        `SELECT ${KEY_COLUMNS} FROM keys
         WHERE key_state = 'PendingDeletion' AND deletion_date <= $1 ORDER BY deletion_date, seq LIMIT $2`,
        [now, limit],
      )
    ).rows as KeyRow[]
    return rows.map(toKey)
  }

  /**
   * See {@link Store.acquireLease}. One upsert: of two nodes taking a free lease at once, the second
   * waits for the first's insert and then finds it held. `now` and `ttlMs` are whole milliseconds.
   */
  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(now)) throw new RangeError(`now must be an integer, got ${now}`)
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`)
    const expiresAt = now + ttlMs
    if (!Number.isSafeInteger(expiresAt)) throw new RangeError(`now + ttlMs is out of range: ${expiresAt}`)
    const result = await this.#query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
      [name, holder, expiresAt, now],
    )
    return result.rowCount === 1
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder])
  }

  /**
   * Creates an alias; false (and nothing stored) if the name exists in that account and region.
   *
   * @throws StoreConflictError when `alias.targetKeyId` is not a stored key (e.g. it was deleted
   *   meanwhile). The store does not check that the key is in the alias's account and region.
   */
  async createAlias(alias: AliasRecord): Promise<boolean> {
    const a = alias
    try {
      const result = await this.#query(
        `WITH inserted AS (
           INSERT INTO aliases (${ALIAS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (account_id, region, alias_name) DO NOTHING
           RETURNING account_id, region, alias_name
         )
         SELECT ${ALIAS_NOTIFY} FROM inserted`,
        [a.accountId, a.region, a.aliasName, a.targetKeyId, a.creationDate, a.lastUpdatedDate],
      )
      return result.rowCount === 1
    } catch (e) {
      throw missingTarget(e, a.targetKeyId)
    }
  }

  async getAlias(accountId: string, region: string, aliasName: string): Promise<AliasRecord | undefined> {
    const row = (
      await this.#query(`SELECT ${ALIAS_COLUMNS} FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3`, [
        accountId,
        region,
        aliasName,
      ])
    ).rows[0] as AliasRow | undefined
    return row === undefined ? undefined : toAlias(row)
  }

  /**
   * Points an existing alias at another key and sets its lastUpdatedDate to `now`; false if the
   * alias does not exist.
   *
   * @throws StoreConflictError when the alias exists but `targetKeyId` is not a stored key.
   */
  async updateAlias(accountId: string, region: string, aliasName: string, targetKeyId: string, now: number): Promise<boolean> {
    try {
      const result = await this.#query(
        `WITH updated AS (
           UPDATE aliases SET key_id = $1, last_updated_date = $2 WHERE account_id = $3 AND region = $4 AND alias_name = $5
           RETURNING account_id, region, alias_name
         )
         SELECT ${ALIAS_NOTIFY} FROM updated`,
        [targetKeyId, now, accountId, region, aliasName],
      )
      return result.rowCount === 1
    } catch (e) {
      throw missingTarget(e, targetKeyId)
    }
  }

  async deleteAlias(accountId: string, region: string, aliasName: string): Promise<boolean> {
    const result = await this.#query(
      `WITH deleted AS (
         DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3
         RETURNING account_id, region, alias_name
       )
       SELECT ${ALIAS_NOTIFY} FROM deleted`,
      [accountId, region, aliasName],
    )
    return result.rowCount === 1
  }

  /** See {@link Store.listAliases}; names are ordered by their UTF-8 bytes (the "C" collation). */
  async listAliases(accountId: string, region: string, options: { keyId?: string; limit: number; after?: string }): Promise<AliasPage> {
    const { keyId, limit, after } = options
    checkLimit(limit)
    const scope = aliasMarkerScope(accountId, region, keyId)
    const afterName = after === undefined ? undefined : decodeAliasName(decodeMarker(scope, after))
    const where = ['account_id = $1', 'region = $2']
    const params: unknown[] = [accountId, region]
    if (keyId !== undefined) {
      params.push(keyId)
      where.push(`key_id = $${params.length}`)
    }
    if (afterName !== undefined) {
      params.push(afterName)
      where.push(`alias_name > $${params.length} COLLATE "C"`)
    }
    params.push(limit + 1)
    const rows = (
      await this.#query(
        `SELECT ${ALIAS_COLUMNS} FROM aliases WHERE ${where.join(' AND ')} ORDER BY alias_name COLLATE "C" LIMIT $${params.length}`,
        params,
      )
    ).rows as AliasRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      aliases: page.map(toAlias),
      ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(scope, encodeAliasName(last.alias_name)) } : {}),
    }
  }

  async putCredential(credential: CredentialRecord): Promise<boolean> {
    const c = credential
    const result = await this.#query(
      // A user's key only while the user exists; FOR SHARE waits for (and then sees) a concurrent
      // deleteUser, which locks the user FOR UPDATE, so no key is left behind for a new user of that name.
      `INSERT INTO credentials (access_key_id, account_id, principal_arn, wrapped_secret, created_at, user_name)
       SELECT $1, $2, $3, $4, $5, $6::text
       WHERE $6::text IS NULL OR EXISTS (SELECT 1 FROM iam_users WHERE account_id = $2 AND user_name = $6::text FOR SHARE)
       ON CONFLICT (access_key_id) DO NOTHING`,
      [c.accessKeyId, c.accountId, c.principalArn, bytea(c.wrappedSecret), c.createdAt, c.userName ?? null],
    )
    return result.rowCount === 1
  }

  async getCredential(accessKeyId: string): Promise<CredentialRecord | undefined> {
    const row = (await this.#query(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = $1`, [accessKeyId])).rows[0] as
      | CredentialRow
      | undefined
    return row === undefined ? undefined : toCredential(row)
  }

  async deleteCredential(accessKeyId: string): Promise<boolean> {
    // Every node drops the key's signing keys when the report arrives.
    const sql = `WITH d AS (DELETE FROM credentials WHERE access_key_id = $1 RETURNING access_key_id) SELECT ${notifyAccessKeySql('access_key_id')} FROM d`
    return (await this.#query(sql, [accessKeyId])).rowCount === 1
  }

  async listUserCredentials(accountId: string, userName: string): Promise<CredentialRecord[]> {
    const rows = (
      await this.#query(
        `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = $1 AND user_name = $2 ORDER BY created_at, access_key_id`,
        [accountId, userName],
      )
    ).rows as CredentialRow[]
    return rows.map(toCredential)
  }

  async createUser(user: IamUserRecord): Promise<boolean> {
    const u = user
    const result = await this.#query(`INSERT INTO iam_users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, [
      u.accountId,
      u.userName,
      u.userId,
      u.arn,
      u.path,
      u.createdAt,
      tagsColumn(u.tags),
    ])
    return result.rowCount === 1
  }

  async updateUserTags(accountId: string, userName: string, tags: readonly IamTag[]): Promise<boolean> {
    const result = await this.#query(
      `WITH u AS (UPDATE iam_users SET tags = $1 WHERE account_id = $2 AND user_name = $3 RETURNING account_id, user_name)
       SELECT ${USER_NOTIFY} FROM u`,
      [tagsColumn(tags), accountId, userName],
    )
    return result.rowCount === 1
  }

  async getUser(accountId: string, userName: string): Promise<IamUserRecord | undefined> {
    const row = (await this.#query(`SELECT ${USER_COLUMNS} FROM iam_users WHERE account_id = $1 AND user_name = $2`, [accountId, userName]))
      .rows[0] as UserRow | undefined
    return row === undefined ? undefined : toUser(row)
  }

  async listUsers(accountId: string): Promise<IamUserRecord[]> {
    const rows = (await this.#query(`SELECT ${USER_COLUMNS} FROM iam_users WHERE account_id = $1 ORDER BY user_name`, [accountId]))
      .rows as UserRow[]
    return rows.map(toUser)
  }

  async deleteUser(accountId: string, userName: string): Promise<'deleted' | 'missing' | 'conflict'> {
    return this.#transaction(async (tx) => {
      // The row lock serialises this with a concurrent CreateAccessKey / PutUserPolicy check.
      const user = await tx.query('SELECT 1 FROM iam_users WHERE account_id = $1 AND user_name = $2 FOR UPDATE', [accountId, userName])
      if (user.rows.length === 0) return 'missing'
      const n = await tx.query(
        `SELECT (SELECT count(*) FROM credentials WHERE account_id = $1 AND user_name = $2)
          + (SELECT count(*) FROM iam_user_policies WHERE account_id = $1 AND user_name = $2) AS n`,
        [accountId, userName],
      )
      if (Number((n.rows[0] as { n: PgInt }).n) > 0) return 'conflict'
      await tx.query(`WITH d AS (DELETE FROM iam_users WHERE account_id = $1 AND user_name = $2 RETURNING account_id, user_name) SELECT ${USER_NOTIFY} FROM d`, [accountId, userName])
      return 'deleted'
    })
  }

  async putUserPolicy(policy: UserPolicyRecord): Promise<boolean> {
    const p = policy
    const result = await this.#query(
      `WITH w AS (INSERT INTO iam_user_policies (account_id, user_name, policy_name, document)
       SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM iam_users WHERE account_id = $1 AND user_name = $2)
       ON CONFLICT (account_id, user_name, policy_name) DO UPDATE SET document = excluded.document
       RETURNING account_id, user_name) SELECT ${USER_NOTIFY} FROM w`,
      [p.accountId, p.userName, p.policyName, p.document],
    )
    return result.rowCount === 1
  }

  async getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined> {
    const row = (
      await this.#query(
        'SELECT account_id, user_name, policy_name, document FROM iam_user_policies WHERE account_id = $1 AND user_name = $2 AND policy_name = $3',
        [accountId, userName, policyName],
      )
    ).rows[0] as UserPolicyRow | undefined
    return row === undefined ? undefined : toUserPolicy(row)
  }

  async listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]> {
    const rows = (
      await this.#query(
        'SELECT account_id, user_name, policy_name, document FROM iam_user_policies WHERE account_id = $1 AND user_name = $2 ORDER BY policy_name',
        [accountId, userName],
      )
    ).rows as UserPolicyRow[]
    return rows.map(toUserPolicy)
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    const sql = `WITH d AS (DELETE FROM iam_user_policies WHERE account_id = $1 AND user_name = $2 AND policy_name = $3 RETURNING account_id, user_name)
      SELECT ${USER_NOTIFY} FROM d`
    const result = await this.#query(sql, [
      accountId,
      userName,
      policyName,
    ])
    return result.rowCount === 1
  }

  async createRole(role: IamRoleRecord): Promise<boolean> {
    const r = role
    const result = await this.#query(`INSERT INTO iam_roles (${ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`, [
      r.accountId,
      r.roleName,
      r.roleId,
      r.arn,
      r.path,
      r.trustPolicy,
      r.createdAt,
      r.maxSessionDuration,
      r.description ?? null,
      tagsColumn(r.tags),
    ])
    return result.rowCount === 1
  }

  async getRole(accountId: string, roleName: string): Promise<IamRoleRecord | undefined> {
    const row = (await this.#query(`SELECT ${ROLE_COLUMNS} FROM iam_roles WHERE account_id = $1 AND role_name = $2`, [accountId, roleName])).rows[0] as
      | RoleRow
      | undefined
    return row === undefined ? undefined : toRole(row)
  }

  async listRoles(accountId: string): Promise<IamRoleRecord[]> {
    const rows = (await this.#query(`SELECT ${ROLE_COLUMNS} FROM iam_roles WHERE account_id = $1 ORDER BY role_name COLLATE "C"`, [accountId])).rows as RoleRow[]
    return rows.map(toRole)
  }

  async updateRole(role: IamRoleRecord): Promise<boolean> {
    const r = role
    const result = await this.#query(
      `WITH u AS (UPDATE iam_roles SET trust_policy = $1, max_session_duration = $2, description = $3, tags = $7
         WHERE account_id = $4 AND role_name = $5 AND role_id = $6 RETURNING account_id, role_name)
       SELECT ${ROLE_NOTIFY} FROM u`,
      [r.trustPolicy, r.maxSessionDuration, r.description ?? null, r.accountId, r.roleName, r.roleId, tagsColumn(r.tags)],
    )
    return result.rowCount === 1
  }

  async deleteRole(accountId: string, roleName: string): Promise<'deleted' | 'missing' | 'conflict'> {
    return this.#transaction(async (tx) => {
      // The row lock serialises this with a concurrent PutRolePolicy / AssumeRole.
      const role = await tx.query('SELECT 1 FROM iam_roles WHERE account_id = $1 AND role_name = $2 FOR UPDATE', [accountId, roleName])
      if (role.rows.length === 0) return 'missing'
      const n = await tx.query('SELECT count(*) AS n FROM iam_role_policies WHERE account_id = $1 AND role_name = $2', [accountId, roleName])
      if (Number((n.rows[0] as { n: PgInt }).n) > 0) return 'conflict'
      // Its sessions end with it: every node drops their signing keys when the reports arrive.
      await tx.query(
        `WITH d AS (DELETE FROM role_sessions WHERE account_id = $1 AND role_name = $2 RETURNING access_key_id) SELECT ${notifyAccessKeySql('access_key_id')} FROM d`,
        [accountId, roleName],
      )
      await tx.query(`WITH d AS (DELETE FROM iam_roles WHERE account_id = $1 AND role_name = $2 RETURNING account_id, role_name) SELECT ${ROLE_NOTIFY} FROM d`, [accountId, roleName])
      return 'deleted'
    })
  }

  async putRolePolicy(policy: RolePolicyRecord): Promise<boolean> {
    const p = policy
    const result = await this.#query(
      `WITH w AS (INSERT INTO iam_role_policies (account_id, role_name, policy_name, document)
       SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM iam_roles WHERE account_id = $1 AND role_name = $2)
       ON CONFLICT (account_id, role_name, policy_name) DO UPDATE SET document = excluded.document
       RETURNING account_id, role_name) SELECT ${ROLE_NOTIFY} FROM w`,
      [p.accountId, p.roleName, p.policyName, p.document],
    )
    return result.rowCount === 1
  }

  async getRolePolicy(accountId: string, roleName: string, policyName: string): Promise<RolePolicyRecord | undefined> {
    const row = (
      await this.#query(
        'SELECT account_id, role_name, policy_name, document FROM iam_role_policies WHERE account_id = $1 AND role_name = $2 AND policy_name = $3',
        [accountId, roleName, policyName],
      )
    ).rows[0] as RolePolicyRow | undefined
    return row === undefined ? undefined : toRolePolicy(row)
  }

  async listRolePolicies(accountId: string, roleName: string): Promise<RolePolicyRecord[]> {
    const rows = (
      await this.#query(
        'SELECT account_id, role_name, policy_name, document FROM iam_role_policies WHERE account_id = $1 AND role_name = $2 ORDER BY policy_name',
        [accountId, roleName],
      )
    ).rows as RolePolicyRow[]
    return rows.map(toRolePolicy)
  }

  async deleteRolePolicy(accountId: string, roleName: string, policyName: string): Promise<boolean> {
    const sql = `WITH d AS (DELETE FROM iam_role_policies WHERE account_id = $1 AND role_name = $2 AND policy_name = $3 RETURNING account_id, role_name)
      SELECT ${ROLE_NOTIFY} FROM d`
    const result = await this.#query(sql, [
      accountId,
      roleName,
      policyName,
    ])
    return result.rowCount === 1
  }

  async putRoleSession(session: RoleSessionRecord): Promise<boolean> {
    const x = session
    const result = await this.#query(
      `INSERT INTO role_sessions (${SESSION_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM iam_roles WHERE account_id = $2 AND role_name = $3)
       ON CONFLICT DO NOTHING`,
      [x.accessKeyId, x.accountId, x.roleName, x.roleId, x.sessionName, x.wrappedSecret, x.tokenHash, x.createdAt, x.expiresAt, x.sessionPolicy ?? null, tagsColumn(x.sessionTags)],
    )
    return result.rowCount === 1
  }

  async listRoleSessionIds(accountId: string, roleName: string): Promise<string[]> {
    const rows = (await this.#query('SELECT access_key_id FROM role_sessions WHERE account_id = $1 AND role_name = $2 ORDER BY access_key_id', [accountId, roleName]))
      .rows as Array<{ access_key_id: string }>
    return rows.map((r) => r.access_key_id)
  }

  async recordKeyUsage(usages: readonly KeyUsageRecord[]): Promise<void> {
    if (usages.length === 0) return
    // One statement for the batch; a newer use recorded meanwhile by another node is kept.
    await this.#query(
      `INSERT INTO key_last_usage (key_id, operation, used_at, event_id, request_id)
        SELECT u.* FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS u (key_id, operation, used_at, event_id, request_id)
        WHERE EXISTS (SELECT 1 FROM keys k WHERE k.key_id = u.key_id)
      ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
        event_id = excluded.event_id, request_id = excluded.request_id
      WHERE excluded.used_at >= key_last_usage.used_at`,
      [usages.map((u) => u.keyId), usages.map((u) => u.operation), usages.map((u) => u.timestamp), usages.map((u) => u.eventId), usages.map((u) => u.requestId)],
    )
  }

  async getKeyLastUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const row = (await this.#query('SELECT key_id, operation, used_at, event_id, request_id FROM key_last_usage WHERE key_id = $1', [keyId])).rows[0] as
      | UsageRow
      | undefined
    return row === undefined ? undefined : toUsage(row)
  }

  async keyUsageTrackingStart(): Promise<number> {
    const row = (await this.#query(`SELECT applied_at FROM trent_migrations WHERE name = '0007-key-last-usage'`)).rows[0] as { applied_at: string } | undefined
    return Number(row?.applied_at ?? 0)
  }

  async listCanaryContexts(): Promise<CanaryContextRecord[]> {
    // COLLATE "C": ordered by code points, as SQLite orders them.
    const rows = (await this.#query('SELECT context_key, context_value, created_at FROM canary_contexts ORDER BY context_key COLLATE "C", context_value COLLATE "C"')).rows as Array<{
      context_key: string
      context_value: string
      created_at: string
    }>
    return rows.map((r) => ({ key: r.context_key, value: r.context_value, createdAt: Number(r.created_at) }))
  }

  async putCanaryContext(record: CanaryContextRecord): Promise<boolean> {
    const r = await this.#query('INSERT INTO canary_contexts (context_key, context_value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [record.key, record.value, record.createdAt])
    return r.rowCount === 1
  }

  async deleteCanaryContext(key: string, value: string): Promise<boolean> {
    return (await this.#query('DELETE FROM canary_contexts WHERE context_key = $1 AND context_value = $2', [key, value])).rowCount === 1
  }

  async getRoleSession(accessKeyId: string): Promise<RoleSessionRecord | undefined> {
    const row = (await this.#query(`SELECT ${SESSION_COLUMNS} FROM role_sessions WHERE access_key_id = $1`, [accessKeyId])).rows[0] as
      | SessionRow
      | undefined
    return row === undefined ? undefined : toSession(row)
  }


  // Grants: see postgres-grants.ts.
  createGrant: Store['createGrant'] = (grant: GrantRecord, token: string) => this.#transaction((tx) => pgCreateGrant(tx, grant, token))
  getGrant: Store['getGrant'] = (grantId) => pgGetGrant(this.#queryable, grantId)
  listGrants = (keyId: string, options: { grantId?: string; granteePrincipal?: string; limit: number; after?: string }): Promise<GrantPage> =>
    pgListGrants(this.#queryable, keyId, options)
  listRetirableGrants: Store['listRetirableGrants'] = (accountId, region, retiringPrincipal, options) =>
    pgListRetirableGrants(this.#queryable, accountId, region, retiringPrincipal, options)
  deleteGrant: Store['deleteGrant'] = (grantId) => pgDeleteGrant(this.#queryable, grantId)
  grantByToken: Store['grantByToken'] = (token) => pgGrantByToken(this.#queryable, token)
  countGrants: Store['countGrants'] = (keyId) => pgCountGrants(this.#queryable, keyId)
  readonly #queryable = { query: (text: string, values?: unknown[]) => this.#query(text, values) }

  /** Closes the LISTEN connection, then ends the pool: waits for checked-out connections to be released, then closes them all. */
  async close(): Promise<void> {
    this.#migrated = false
    this.#listeners.clear()
    const feed = this.#feed
    this.#feed = undefined
    await Promise.all([feed?.stop(), ...this.#stopping])
    await this.#pool.end()
  }

  #ready(): void {
    // Using a database that migrate() has not checked could mean writing to a schema from a newer Trent.
    if (!this.#migrated) throw new Error('PostgresStore: call migrate() before using the store')
  }

  /** One statement on any pooled connection (autocommit). */
  async #query(text: string, values: unknown[] = []): Promise<PgQueryResult> {
    this.#ready()
    try {
      const result = await this.#pool.query(text, values)
      this.#available()
      return result
    } catch (e) {
      throw this.#classify(e)
    }
  }

  /** Runs `body` in a READ COMMITTED transaction on one connection; rolls back if it throws. */
  async #transaction<T>(body: (tx: PgQueryable) => Promise<T>): Promise<T> {
    this.#ready()
    let client
    try {
      client = await this.#pool.connect()
    } catch (e) {
      throw this.#classify(e)
    }
    // A connection that dies while checked out emits 'error' on the client; the query in flight
    // rejects as well, so the listener only has to exist (and remember that the client is broken).
    let broken: Error | undefined
    const onError = (e: Error): void => {
      broken = e
    }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      try {
        const result = await body(client)
        await client.query('COMMIT')
        this.#available()
        return result
      } catch (e) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
        })
        throw e
      }
    } catch (e) {
      throw this.#classify(e)
    } finally {
      client.removeListener('error', onError)
      client.release(broken)
    }
  }

  /** A connection failure as the retryable error callers get; any other error unchanged. */
  #classify(e: unknown): unknown {
    if (isUnavailable(e)) {
      this.#unavailable(e)
      return new KmsError('DependencyTimeoutException', 'The key store database is unavailable; retry the request.')
    }
    const code = sqlState(e)
    if (code !== undefined && TIMEOUT_SQLSTATES.has(code)) {
      return new KmsError('DependencyTimeoutException', 'The key store database timed out; retry the request.')
    }
    return e
  }

  #unavailable(e: unknown): void {
    if (this.#unavailableSince !== undefined) return
    this.#unavailableSince = Date.now()
    this.#log(`trent: lost the PostgreSQL connection (${message(e)}); requests fail with DependencyTimeoutException until it is back`)
  }

  #available(): void {
    if (this.#unavailableSince === undefined) return
    const seconds = ((Date.now() - this.#unavailableSince) / 1000).toFixed(1)
    this.#unavailableSince = undefined
    this.#log(`trent: PostgreSQL is reachable again (after ${seconds} s)`)
  }
}

/**
 * Writes a key if the stored version is the one before ($25) and reports the change. One statement:
 * a concurrent writer's row lock makes this wait, and PostgreSQL then re-checks the version on the
 * row as that writer left it (READ COMMITTED), so one of them fails. The change report goes out
 * with the statement's transaction, only if a row changed.
 */
const UPDATE_KEY_SQL = `WITH updated AS (
    UPDATE keys SET
      arn = $2, account_id = $3, region = $4, creation_date = $5, description_json = $6, key_usage = $7,
      key_spec = $8, origin = $9, key_state = $10, key_manager = $11, multi_region = $12,
      current_key_material_id = $13, deletion_date = $14, pending_window_in_days = $15, policy = $16,
      tags = $17, version = $18, ${KEY_LIFECYCLE_COLUMNS.map((c, i) => `${c} = ${LIFECYCLE_PLACEHOLDERS[i]}`).join(', ')}
    WHERE key_id = $1 AND version = $${KEY_PARAM_COUNT + 1}
    RETURNING key_id
  )
  SELECT ${notifyKeySql('key_id')} FROM updated`

/** Why an update of `key` found another version stored. */
async function conflict(db: PgQueryable, key: KeyRecord): Promise<StoreConflictError> {
  const stored = (await db.query('SELECT version FROM keys WHERE key_id = $1', [key.keyId])).rows[0] as { version: PgInt } | undefined
  return new StoreConflictError(
    stored === undefined ? `key ${key.keyId} does not exist` : `key ${key.keyId} is at version ${int(stored.version)}, not ${key.version - 1}`,
  )
}

/** Parameters $1…$24 of the key columns, in the order the INSERT and UPDATE statements name them. */
function keyParams(key: KeyRecord): unknown[] {
  return [
    key.keyId,
    key.arn,
    key.accountId,
    key.region,
    key.creationDate,
    JSON.stringify(key.description),
    key.keyUsage,
    key.keySpec,
    key.origin,
    key.keyState,
    key.keyManager,
    key.multiRegion,
    key.currentKeyMaterialId ?? null,
    key.deletionDate ?? null,
    key.pendingWindowInDays ?? null,
    key.policy,
    JSON.stringify(key.tags.map((t) => ({ TagKey: t.TagKey, TagValue: t.TagValue }))),
    key.version,
    ...keyLifecycleValues(key),
  ]
}

function toKey(r: KeyRow): KeyRecord {
  return {
    keyId: r.key_id,
    arn: r.arn,
    accountId: r.account_id,
    region: r.region,
    creationDate: int(r.creation_date),
    description: JSON.parse(r.description_json) as string,
    keyUsage: r.key_usage as KeyUsage,
    keySpec: r.key_spec as KeySpec,
    origin: r.origin as Origin,
    keyState: r.key_state as KeyState,
    keyManager: r.key_manager as KeyRecord['keyManager'],
    multiRegion: r.multi_region,
    ...(r.current_key_material_id === null ? {} : { currentKeyMaterialId: r.current_key_material_id }),
    ...(r.deletion_date === null ? {} : { deletionDate: int(r.deletion_date) }),
    ...(r.pending_window_in_days === null ? {} : { pendingWindowInDays: int(r.pending_window_in_days) }),
    policy: r.policy,
    tags: JSON.parse(r.tags) as Tag[],
    version: int(r.version),
    ...keyLifecycleFields(r, int),
  }
}

function toAlias(r: AliasRow): AliasRecord {
  return {
    accountId: r.account_id,
    region: r.region,
    aliasName: r.alias_name,
    targetKeyId: r.key_id,
    creationDate: int(r.creation_date),
    lastUpdatedDate: int(r.last_updated_date),
  }
}

/** A bigint column (a decimal string from pg) as a number; refuses one that a number cannot hold exactly. */
function int(value: PgInt): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError(`PostgresStore: ${value} is not a safe integer`)
  return n
}

/** The bytes of `value` as a Buffer view for pg (a bytea parameter); refuses anything else. */
function bytea(value: Uint8Array): Buffer {
  if (!(value instanceof Uint8Array)) throw new TypeError('PostgresStore: expected a Uint8Array')
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** A plain Uint8Array that owns its bytes, so no caller holds a view into a driver's Buffer. */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
}

/** A foreign key failure of an alias write as the StoreConflictError the alias methods document. */
function missingTarget(e: unknown, targetKeyId: string): unknown {
  return sqlState(e) === '23503' ? new StoreConflictError(`key ${targetKeyId} does not exist`, { cause: e }) : e
}

function sqlState(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined
  return typeof code === 'string' ? code : undefined
}

/** True for errors meaning PostgreSQL cannot be reached or dropped the connection, not that the statement failed. */
function isUnavailable(e: unknown): boolean {
  const code = sqlState(e)
  if (code !== undefined && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true
  // node-postgres's own messages for a socket that closed or a connect that timed out carry no code.
  return e instanceof Error && /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect/i.test(e.message)
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function toCredential(row: CredentialRow): CredentialRecord {
  return {
    accessKeyId: row.access_key_id,
    accountId: row.account_id,
    principalArn: row.principal_arn,
    wrappedSecret: copy(row.wrapped_secret),
    createdAt: int(row.created_at),
    ...(row.user_name === null ? {} : { userName: row.user_name }),
  }
}

function toUser(r: UserRow): IamUserRecord {
  return { accountId: r.account_id, userName: r.user_name, userId: r.user_id, arn: r.arn, path: r.path, createdAt: int(r.created_at), ...tagsFromColumn(r.tags) }
}

const ROLE_COLUMNS = 'account_id, role_name, role_id, arn, path, trust_policy, created_at, max_session_duration, description, tags'
const SESSION_COLUMNS = 'access_key_id, account_id, role_name, role_id, session_name, wrapped_secret, token_hash, created_at, expires_at, session_policy, session_tags'

interface RoleRow {
  account_id: string
  role_name: string
  role_id: string
  arn: string
  path: string
  trust_policy: string
  created_at: PgInt
  max_session_duration: PgInt
  description: string | null
  tags: string
}

interface RolePolicyRow {
  account_id: string
  role_name: string
  policy_name: string
  document: string
}

interface SessionRow {
  access_key_id: string
  account_id: string
  role_name: string
  role_id: string
  session_name: string
  wrapped_secret: Uint8Array
  token_hash: Uint8Array
  created_at: PgInt
  expires_at: PgInt
  session_policy: string | null
  session_tags: string
}

function toRole(r: RoleRow): IamRoleRecord {
  return { accountId: r.account_id, roleName: r.role_name, roleId: r.role_id, arn: r.arn, path: r.path, trustPolicy: r.trust_policy, createdAt: int(r.created_at), maxSessionDuration: int(r.max_session_duration), ...(r.description === null ? {} : { description: r.description }), ...tagsFromColumn(r.tags) }
}

function toRolePolicy(r: RolePolicyRow): RolePolicyRecord {
  return { accountId: r.account_id, roleName: r.role_name, policyName: r.policy_name, document: r.document }
}

function toSession(r: SessionRow): RoleSessionRecord {
  return {
    accessKeyId: r.access_key_id,
    accountId: r.account_id,
    roleName: r.role_name,
    roleId: r.role_id,
    sessionName: r.session_name,
    wrappedSecret: copy(r.wrapped_secret),
    tokenHash: copy(r.token_hash),
    createdAt: int(r.created_at),
    expiresAt: int(r.expires_at),
    ...(r.session_policy === null ? {} : { sessionPolicy: r.session_policy }),
    ...sessionTagsFromColumn(r.session_tags),
  }
}

function toUserPolicy(r: UserPolicyRow): UserPolicyRecord {
  return { accountId: r.account_id, userName: r.user_name, policyName: r.policy_name, document: r.document }
}
