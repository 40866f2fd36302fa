import type { KeySpec, KeyState, KeyUsage, Origin } from '../../core/types.js'
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
  type Tag,
} from '../store.js'
import { sessionTagsFromColumn, tagsColumn, tagsFromColumn } from '../iam-tag-rows.js'
import { toUsage, type UsageRow } from '../key-usage-rows.js'
import {
  aliasMarkerScope,
  decodeAliasName,
  decodeMarker,
  decodeSeq,
  encodeAliasName,
  encodeMarker,
  encodeSeq,
  grantMarkerScope,
  keyMarkerScope,
  retirableGrantMarkerScope,
} from '../list-markers.js'
import { grantTokenHash, jsonOrNull } from '../grant-tokens.js'
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
import type { SqliteDatabase, SqliteStatement } from './sqlite-config.js'
import { migrateSqlite, type SqliteMigrationReport } from './sqlite-migrations.js'

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000

interface KeyRow extends KeyLifecycleRow {
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

interface AliasRow {
  account_id: string
  region: string
  alias_name: string
  key_id: string
  creation_date: number
  last_updated_date: number
}

interface CredentialRow {
  access_key_id: string
  account_id: string
  principal_arn: string
  wrapped_secret: Uint8Array
  created_at: number
  user_name: string | null
}

interface UserRow {
  account_id: string
  user_name: string
  user_id: string
  arn: string
  path: string
  created_at: number
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

const KEY_COLUMNS =
  'seq, key_id, arn, account_id, region, creation_date, description, key_usage, key_spec, origin, key_state, ' +
  'key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags, version, ' +
  KEY_LIFECYCLE_COLUMNS.join(', ')
const LIFECYCLE_PARAMS = KEY_LIFECYCLE_COLUMNS.map((c) => `@${c}`).join(', ')
const LIFECYCLE_SETS = KEY_LIFECYCLE_COLUMNS.map((c) => `${c} = @${c}`).join(', ')
const MATERIAL_SELECT = MATERIAL_COLUMNS.join(', ')

const ALIAS_COLUMNS = 'account_id, region, alias_name, key_id, creation_date, last_updated_date'

interface GrantRow {
  seq: number
  grant_id: string
  key_id: string
  name: string | null
  grantee_principal: string
  retiring_principal: string | null
  operations: string
  constraints: string | null
  issuing_account: string
  creation_date: number
}

const GRANT_COLUMNS =
  'seq, grant_id, key_id, name, grantee_principal, retiring_principal, operations, constraints, issuing_account, creation_date'

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
        key_manager, multi_region, current_key_material_id, deletion_date, pending_window_in_days, policy, tags, version,
        ${KEY_LIFECYCLE_COLUMNS.join(', ')}
      ) VALUES (
        @keyId, @arn, @accountId, @region, @creationDate, @description, @keyUsage, @keySpec, @origin, @keyState,
        @keyManager, @multiRegion, @currentKeyMaterialId, @deletionDate, @pendingWindowInDays, @policy, @tags, @version,
        ${LIFECYCLE_PARAMS}
      )`),
    updateKey: p(`UPDATE keys SET
        arn = @arn, account_id = @accountId, region = @region, creation_date = @creationDate,
        description = @description, key_usage = @keyUsage, key_spec = @keySpec, origin = @origin,
        key_state = @keyState, key_manager = @keyManager, multi_region = @multiRegion,
        current_key_material_id = @currentKeyMaterialId, deletion_date = @deletionDate,
        pending_window_in_days = @pendingWindowInDays, policy = @policy, tags = @tags, version = @version,
        ${LIFECYCLE_SETS}
      WHERE key_id = @keyId AND version = @version - 1`),
    keyVersion: p('SELECT version FROM keys WHERE key_id = ?'),
    getKey: p(`SELECT ${KEY_COLUMNS} FROM keys WHERE key_id = ?`),
    listKeys: p(`SELECT ${KEY_COLUMNS} FROM keys WHERE account_id = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?`),
    insertMaterial: p(`INSERT INTO key_materials (${MATERIAL_SELECT}) VALUES (${MATERIAL_COLUMNS.map(() => '?').join(', ')})`),
    putMaterial: p(`INSERT INTO key_materials (${MATERIAL_SELECT}) VALUES (${MATERIAL_COLUMNS.map(() => '?').join(', ')})
      ON CONFLICT (key_id, key_material_id) DO UPDATE SET
      ${MATERIAL_COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(', ')}`),
    getMaterial: p(`SELECT ${MATERIAL_SELECT} FROM key_materials WHERE key_id = ? AND key_material_id = ?`),
    listMaterials: p(`SELECT ${MATERIAL_SELECT} FROM key_materials WHERE key_id = ? ORDER BY created_at, key_material_id`),
    keysDueForRotation: p(`SELECT ${KEY_COLUMNS} FROM keys
      WHERE key_state = 'Enabled' AND next_rotation_date IS NOT NULL AND next_rotation_date <= ? ORDER BY next_rotation_date, seq LIMIT ?`),
    materialsDueForExpiry: p(`SELECT ${MATERIAL_SELECT} FROM key_materials
      WHERE import_state = 'IMPORTED' AND valid_to IS NOT NULL AND valid_to <= ? ORDER BY valid_to, key_id, key_material_id LIMIT ?`),
    putImportToken: p(`INSERT INTO import_tokens (token_hash, key_id, wrapping_key_spec, wrapping_algorithm, wrapped_private_key, valid_to)
      VALUES (?, ?, ?, ?, ?, ?)`),
    getImportToken: p(`SELECT token_hash, key_id, wrapping_key_spec, wrapping_algorithm, wrapped_private_key, valid_to
      FROM import_tokens WHERE token_hash = ?`),
    deleteImportToken: p('DELETE FROM import_tokens WHERE token_hash = ?'),
    deleteImportTokensOfKey: p('DELETE FROM import_tokens WHERE key_id = ?'),
    deleteExpiredImportTokens: p('DELETE FROM import_tokens WHERE valid_to <= ?'),
    // The literal state (not a parameter) lets SQLite use the partial index keys_due_for_deletion.
    keysDue: p(`SELECT ${KEY_COLUMNS} FROM keys
      WHERE key_state = 'PendingDeletion' AND deletion_date <= ? ORDER BY deletion_date, seq LIMIT ?`),
    keyLifecycle: p('SELECT version, key_state FROM keys WHERE key_id = ?'),
    deleteMaterials: p('DELETE FROM key_materials WHERE key_id = ?'),
    deleteAliasesOfKey: p('DELETE FROM aliases WHERE key_id = ?'),
    deleteKey: p('DELETE FROM keys WHERE key_id = ?'),
    acquireLease: p(`INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`),
    releaseLease: p('DELETE FROM leases WHERE name = ? AND holder = ?'),
    getAliasTarget: p('SELECT key_id FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?'),
    insertAlias: p(`INSERT INTO aliases (${ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (account_id, region, alias_name) DO NOTHING`),
    getAlias: p(`SELECT ${ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?`),
    updateAlias: p(`UPDATE aliases SET key_id = ?, last_updated_date = ?
      WHERE account_id = ? AND region = ? AND alias_name = ?`),
    deleteAlias: p('DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?'),
    // Separate statements per case rather than `? IS NULL OR ...`, which would keep SQLite from
    // seeking in the index. Alias names compare as UTF-8 bytes (BINARY collation), as the markers do.
    // INDEXED BY: without ANALYZE statistics SQLite prefers scanning the account's aliases by primary
    // key, however many there are, over seeking to the few of one key.
    listAliasesFirst: p(`SELECT ${ALIAS_COLUMNS} FROM aliases
      WHERE account_id = ? AND region = ? ORDER BY alias_name LIMIT ?`),
    listAliasesAfter: p(`SELECT ${ALIAS_COLUMNS} FROM aliases
      WHERE account_id = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?`),
    listKeyAliasesFirst: p(`SELECT ${ALIAS_COLUMNS} FROM aliases INDEXED BY aliases_by_key_and_name
      WHERE key_id = ? AND account_id = ? AND region = ? ORDER BY alias_name LIMIT ?`),
    listKeyAliasesAfter: p(`SELECT ${ALIAS_COLUMNS} FROM aliases INDEXED BY aliases_by_key_and_name
      WHERE key_id = ? AND account_id = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?`),
    // A user's key only while the user exists (a key left behind would pass to a new user of that name).
    putCredential: p(`INSERT INTO credentials (access_key_id, account_id, principal_arn, wrapped_secret, created_at, user_name)
      SELECT @id, @a, @arn, @secret, @at, @u
      WHERE @u IS NULL OR EXISTS (SELECT 1 FROM iam_users WHERE account_id = @a AND user_name = @u)
      ON CONFLICT (access_key_id) DO NOTHING`),
    getCredential: p(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = ?`),
    deleteCredential: p('DELETE FROM credentials WHERE access_key_id = ?'),
    listUserCredentials: p(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = ? AND user_name = ?
      ORDER BY created_at, access_key_id`),
    createUser: p(`INSERT INTO iam_users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    getUser: p(`SELECT ${USER_COLUMNS} FROM iam_users WHERE account_id = ? AND user_name = ?`),
    listUsers: p(`SELECT ${USER_COLUMNS} FROM iam_users WHERE account_id = ? ORDER BY user_name`),
    userDependents: p(`SELECT (SELECT count(*) FROM credentials WHERE account_id = @a AND user_name = @u)
      + (SELECT count(*) FROM iam_user_policies WHERE account_id = @a AND user_name = @u) AS n`),
    deleteUser: p('DELETE FROM iam_users WHERE account_id = ? AND user_name = ?'),
    putUserPolicy: p(`INSERT INTO iam_user_policies (account_id, user_name, policy_name, document)
      SELECT @a, @u, @p, @d WHERE EXISTS (SELECT 1 FROM iam_users WHERE account_id = @a AND user_name = @u)
      ON CONFLICT (account_id, user_name, policy_name) DO UPDATE SET document = excluded.document`),
    getUserPolicy: p(`SELECT account_id, user_name, policy_name, document FROM iam_user_policies
      WHERE account_id = ? AND user_name = ? AND policy_name = ?`),
    listUserPolicies: p(`SELECT account_id, user_name, policy_name, document FROM iam_user_policies
      WHERE account_id = ? AND user_name = ? ORDER BY policy_name`),
    deleteUserPolicy: p('DELETE FROM iam_user_policies WHERE account_id = ? AND user_name = ? AND policy_name = ?'),
    keyExists: p('SELECT 1 AS one FROM keys WHERE key_id = ?'),
    sameGrant: p(`SELECT ${GRANT_COLUMNS} FROM grants WHERE key_id = ? AND name = ? AND grantee_principal = ?
      AND retiring_principal IS ? AND operations = ? AND constraints IS ? ORDER BY seq LIMIT 1`),
    insertGrant: p(`INSERT INTO grants (grant_id, key_id, name, grantee_principal, retiring_principal, operations, constraints,
      issuing_account, creation_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertGrantToken: p('INSERT INTO grant_tokens (token_hash, grant_id) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING'),
    getGrant: p(`SELECT ${GRANT_COLUMNS} FROM grants WHERE grant_id = ?`),
    listGrants: p(`SELECT ${GRANT_COLUMNS} FROM grants WHERE key_id = @keyId AND seq > @after
      AND (@grantId IS NULL OR grant_id = @grantId) AND (@grantee IS NULL OR grantee_principal = @grantee)
      ORDER BY seq LIMIT @limit`),
    listRetirable: p(`SELECT g.seq, g.grant_id, g.key_id, g.name, g.grantee_principal, g.retiring_principal, g.operations,
      g.constraints, g.issuing_account, g.creation_date
      FROM grants g JOIN keys k ON k.key_id = g.key_id
      WHERE g.retiring_principal = ? AND k.account_id = ? AND k.region = ? AND g.seq > ? ORDER BY g.seq LIMIT ?`),
    deleteGrantTokens: p('DELETE FROM grant_tokens WHERE grant_id = ?'),
    deleteGrant: p('DELETE FROM grants WHERE grant_id = ?'),
    deleteGrantTokensOfKey: p('DELETE FROM grant_tokens WHERE grant_id IN (SELECT grant_id FROM grants WHERE key_id = ?)'),
    deleteGrantsOfKey: p('DELETE FROM grants WHERE key_id = ?'),
    deleteUsageOfKey: p('DELETE FROM key_last_usage WHERE key_id = ?'),
    grantByToken: p(`SELECT g.seq, g.grant_id, g.key_id, g.name, g.grantee_principal, g.retiring_principal, g.operations,
      g.constraints, g.issuing_account, g.creation_date
      FROM grant_tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?`),
    countGrants: p('SELECT count(*) AS n FROM grants WHERE key_id = ?'),
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

  /**
   * Configures the connection (WAL, synchronous=FULL, busy timeout, foreign keys, secure delete);
   * touches no tables.
   */
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
    // deleteKey crypto-shreds: without this, SQLite only unlinks deleted cells and the EKT bytes stay
    // in free space of the page (and then of the file) until something happens to overwrite them.
    db.pragma('secure_delete = ON', { simple: true })
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
        sql.insertMaterial.run(...materialValues(material, (b) => b))
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
    throw this.#conflict(key)
  }

  /** Why an update of `key` found another version stored. */
  #conflict(key: KeyRecord): StoreConflictError {
    const stored = this.#sql().keyVersion.get(key.keyId) as { version: number } | undefined
    return new StoreConflictError(
      stored === undefined
        ? `key ${key.keyId} does not exist`
        : `key ${key.keyId} is at version ${stored.version}, not ${key.version - 1}`,
    )
  }

  async listKeys(accountId: string, region: string, limit: number, after?: string): Promise<KeyPage> {
    checkLimit(limit)
    const scope = keyMarkerScope(accountId, region)
    const afterSeq = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
    const rows = this.#sql().listKeys.all(accountId, region, afterSeq, limit + 1) as KeyRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      keys: page.map(toKey),
      ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(scope, encodeSeq(last.seq)) } : {}),
    }
  }

  async getKeyMaterial(keyId: string, keyMaterialId: string): Promise<KeyMaterialRecord | undefined> {
    const row = this.#sql().getMaterial.get(keyId, keyMaterialId) as MaterialRow | undefined
    return row === undefined ? undefined : toMaterial(row, Number)
  }

  /** See {@link Store.putKeyMaterials}. */
  async putKeyMaterials(key: KeyRecord, materials: readonly KeyMaterialRecord[]): Promise<void> {
    if (materials.some((m) => m.keyId !== key.keyId)) throw new Error(`key material of another key given to update key ${key.keyId}`)
    const sql = this.#sql()
    this.#transaction(() => {
      if (sql.updateKey.run(keyParams(key)).changes !== 1) throw this.#conflict(key)
      for (const m of materials) sql.putMaterial.run(...materialValues(m, (b) => b))
    })
  }

  async listKeyMaterials(keyId: string): Promise<KeyMaterialRecord[]> {
    return (this.#sql().listMaterials.all(keyId) as MaterialRow[]).map((r) => toMaterial(r, Number))
  }

  async keysDueForRotation(now: number, limit: number): Promise<KeyRecord[]> {
    checkLimit(limit)
    return (this.#sql().keysDueForRotation.all(now, limit) as KeyRow[]).map(toKey)
  }

  async materialsDueForExpiry(now: number, limit: number): Promise<KeyMaterialRecord[]> {
    checkLimit(limit)
    return (this.#sql().materialsDueForExpiry.all(now, limit) as MaterialRow[]).map((r) => toMaterial(r, Number))
  }

  async putImportToken(token: ImportTokenRecord): Promise<void> {
    try {
      this.#sql().putImportToken.run(token.tokenHash, token.keyId, token.wrappingKeySpec, token.wrappingAlgorithm, token.wrappedPrivateKey, token.validTo)
    } catch (e) {
      throw missingTarget(e, token.keyId)
    }
  }

  async getImportToken(tokenHash: Uint8Array): Promise<ImportTokenRecord | undefined> {
    const r = this.#sql().getImportToken.get(tokenHash) as
      | { token_hash: Uint8Array; key_id: string; wrapping_key_spec: string; wrapping_algorithm: string; wrapped_private_key: Uint8Array; valid_to: number }
      | undefined
    return r === undefined
      ? undefined
      : {
          tokenHash: copy(r.token_hash),
          keyId: r.key_id,
          wrappingKeySpec: r.wrapping_key_spec,
          wrappingAlgorithm: r.wrapping_algorithm,
          wrappedPrivateKey: copy(r.wrapped_private_key),
          validTo: r.valid_to,
        }
  }

  async deleteImportToken(tokenHash: Uint8Array): Promise<boolean> {
    return this.#sql().deleteImportToken.run(tokenHash).changes === 1
  }

  async deleteExpiredImportTokens(now: number): Promise<number> {
    return this.#sql().deleteExpiredImportTokens.run(now).changes
  }

  async getAliasTarget(accountId: string, region: string, aliasName: string): Promise<string | undefined> {
    const row = this.#sql().getAliasTarget.get(accountId, region, aliasName) as { key_id: string } | undefined
    return row?.key_id
  }

  /**
   * Destroys a PendingDeletion key still at `key.version` with its materials and aliases, in one
   * transaction; see {@link Store.deleteKey}. The EKTs are overwritten in the database pages
   * (`secure_delete`, set by the constructor), and then a `wal_checkpoint(TRUNCATE)` empties the WAL
   * of older page images. That checkpoint is best effort: while another connection is reading, it
   * waits up to the busy timeout and may then leave the WAL for a later checkpoint.
   */
  async deleteKey(key: KeyRecord): Promise<boolean> {
    const sql = this.#sql()
    const deleted = this.#transaction(() => {
      const stored = sql.keyLifecycle.get(key.keyId) as { version: number; key_state: string } | undefined
      if (stored === undefined || stored.version !== key.version || stored.key_state !== 'PendingDeletion') return false
      // Explicit rather than relying on ON DELETE CASCADE, which needs foreign_keys on this connection.
      sql.deleteMaterials.run(key.keyId)
      sql.deleteImportTokensOfKey.run(key.keyId)
      sql.deleteAliasesOfKey.run(key.keyId)
      sql.deleteGrantTokensOfKey.run(key.keyId)
      sql.deleteGrantsOfKey.run(key.keyId)
      sql.deleteUsageOfKey.run(key.keyId)
      sql.deleteKey.run(key.keyId)
      return true
    })
    // The WAL still holds the pages as they were before, EKTs included. An ordinary checkpoint copies
    // them into the database and later writes reuse the WAL from its start, but frames beyond what
    // they rewrite keep the EKT indefinitely; truncating is the only way to be rid of them.
    if (deleted) this.#db.pragma('wal_checkpoint(TRUNCATE)', { simple: true })
    return deleted
  }

  /** See {@link Store.keysDueForDeletion}; keys with the same deletionDate come in creation order. */
  async keysDueForDeletion(now: number, limit: number): Promise<KeyRecord[]> {
    checkLimit(limit)
    return (this.#sql().keysDue.all(now, limit) as KeyRow[]).map(toKey)
  }

  /**
   * See {@link Store.acquireLease}. One upsert, so two connections cannot both take the lease. A
   * lease whose expiry equals `now` is expired. `now` and `ttlMs` are whole milliseconds.
   */
  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(now)) throw new RangeError(`now must be an integer, got ${now}`)
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`)
    const expiresAt = now + ttlMs
    if (!Number.isSafeInteger(expiresAt)) throw new RangeError(`now + ttlMs is out of range: ${expiresAt}`)
    return this.#sql().acquireLease.run({ name, holder, expiresAt, now }).changes === 1
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#sql().releaseLease.run(name, holder)
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
      return this.#sql().insertAlias.run(a.accountId, a.region, a.aliasName, a.targetKeyId, a.creationDate, a.lastUpdatedDate).changes === 1
    } catch (e) {
      throw missingTarget(e, a.targetKeyId)
    }
  }

  async getAlias(accountId: string, region: string, aliasName: string): Promise<AliasRecord | undefined> {
    const row = this.#sql().getAlias.get(accountId, region, aliasName) as AliasRow | undefined
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
      return this.#sql().updateAlias.run(targetKeyId, now, accountId, region, aliasName).changes === 1
    } catch (e) {
      throw missingTarget(e, targetKeyId)
    }
  }

  async deleteAlias(accountId: string, region: string, aliasName: string): Promise<boolean> {
    return this.#sql().deleteAlias.run(accountId, region, aliasName).changes === 1
  }

  /** See {@link Store.listAliases}; names are ordered by their UTF-8 bytes. */
  async listAliases(accountId: string, region: string, options: { keyId?: string; limit: number; after?: string }): Promise<AliasPage> {
    const { keyId, limit, after } = options
    checkLimit(limit)
    const sql = this.#sql()
    const scope = aliasMarkerScope(accountId, region, keyId)
    const afterName = after === undefined ? undefined : decodeAliasName(decodeMarker(scope, after))
    const where = keyId === undefined ? [accountId, region] : [keyId, accountId, region]
    const rows = (
      keyId === undefined
        ? afterName === undefined
          ? sql.listAliasesFirst.all(...where, limit + 1)
          : sql.listAliasesAfter.all(...where, afterName, limit + 1)
        : afterName === undefined
          ? sql.listKeyAliasesFirst.all(...where, limit + 1)
          : sql.listKeyAliasesAfter.all(...where, afterName, limit + 1)
    ) as AliasRow[]
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return {
      aliases: page.map(toAlias),
      ...(rows.length > limit && last !== undefined
        ? { nextMarker: encodeMarker(scope, encodeAliasName(last.alias_name)) }
        : {}),
    }
  }

  async putCredential(credential: CredentialRecord): Promise<boolean> {
    const c = credential
    return this.#sql().putCredential.run({ id: c.accessKeyId, a: c.accountId, arn: c.principalArn, secret: c.wrappedSecret, at: c.createdAt, u: c.userName ?? null })
      .changes === 1
  }

  async getCredential(accessKeyId: string): Promise<CredentialRecord | undefined> {
    const row = this.#sql().getCredential.get(accessKeyId) as CredentialRow | undefined
    return row === undefined ? undefined : toCredential(row)
  }

  async deleteCredential(accessKeyId: string): Promise<boolean> {
    return this.#sql().deleteCredential.run(accessKeyId).changes === 1
  }

  async listUserCredentials(accountId: string, userName: string): Promise<CredentialRecord[]> {
    return (this.#sql().listUserCredentials.all(accountId, userName) as CredentialRow[]).map(toCredential)
  }

  async createUser(user: IamUserRecord): Promise<boolean> {
    const u = user
    return this.#sql().createUser.run(u.accountId, u.userName, u.userId, u.arn, u.path, u.createdAt, tagsColumn(u.tags)).changes === 1
  }

  async updateUserTags(accountId: string, userName: string, tags: readonly IamTag[]): Promise<boolean> {
    return this.#prepare('UPDATE iam_users SET tags = ? WHERE account_id = ? AND user_name = ?').run(tagsColumn(tags), accountId, userName).changes === 1
  }

  async getUser(accountId: string, userName: string): Promise<IamUserRecord | undefined> {
    const row = this.#sql().getUser.get(accountId, userName) as UserRow | undefined
    return row === undefined ? undefined : toUser(row)
  }

  async listUsers(accountId: string): Promise<IamUserRecord[]> {
    return (this.#sql().listUsers.all(accountId) as UserRow[]).map(toUser)
  }

  async deleteUser(accountId: string, userName: string): Promise<'deleted' | 'missing' | 'conflict'> {
    return this.#transaction(() => {
      const sql = this.#sql()
      if (sql.getUser.get(accountId, userName) === undefined) return 'missing'
      if ((sql.userDependents.get({ a: accountId, u: userName }) as { n: number }).n > 0) return 'conflict'
      sql.deleteUser.run(accountId, userName)
      return 'deleted'
    })
  }

  async putUserPolicy(policy: UserPolicyRecord): Promise<boolean> {
    const p = policy
    return this.#sql().putUserPolicy.run({ a: p.accountId, u: p.userName, p: p.policyName, d: p.document }).changes === 1
  }

  async getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined> {
    const row = this.#sql().getUserPolicy.get(accountId, userName, policyName) as UserPolicyRow | undefined
    return row === undefined ? undefined : toUserPolicy(row)
  }

  async listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]> {
    return (this.#sql().listUserPolicies.all(accountId, userName) as UserPolicyRow[]).map(toUserPolicy)
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean> {
    return this.#sql().deleteUserPolicy.run(accountId, userName, policyName).changes === 1
  }

  #prepare(sql: string): SqliteStatement {
    this.#sql()
    return this.#db.prepare(sql)
  }

  async createRole(role: IamRoleRecord): Promise<boolean> {
    const r = role
    return this.#prepare(`INSERT INTO iam_roles (${ROLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
      .run(r.accountId, r.roleName, r.roleId, r.arn, r.path, r.trustPolicy, r.createdAt, r.maxSessionDuration, r.description ?? null, tagsColumn(r.tags)).changes === 1
  }

  async getRole(accountId: string, roleName: string): Promise<IamRoleRecord | undefined> {
    const row = this.#prepare(`SELECT ${ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? AND role_name = ?`).get(accountId, roleName) as RoleRow | undefined
    return row === undefined ? undefined : toRole(row)
  }

  async listRoles(accountId: string): Promise<IamRoleRecord[]> {
    return (this.#prepare(`SELECT ${ROLE_COLUMNS} FROM iam_roles WHERE account_id = ? ORDER BY role_name`).all(accountId) as RoleRow[]).map(toRole)
  }

  async updateRole(role: IamRoleRecord): Promise<boolean> {
    const r = role
    return this.#prepare('UPDATE iam_roles SET trust_policy = ?, max_session_duration = ?, description = ?, tags = ? WHERE account_id = ? AND role_name = ? AND role_id = ?')
      .run(r.trustPolicy, r.maxSessionDuration, r.description ?? null, tagsColumn(r.tags), r.accountId, r.roleName, r.roleId).changes === 1
  }

  async deleteRole(accountId: string, roleName: string): Promise<'deleted' | 'missing' | 'conflict'> {
    const exists = this.#prepare('SELECT 1 FROM iam_roles WHERE account_id = ? AND role_name = ?')
    const policies = this.#prepare('SELECT count(*) AS n FROM iam_role_policies WHERE account_id = ? AND role_name = ?')
    const sessions = this.#prepare('DELETE FROM role_sessions WHERE account_id = ? AND role_name = ?')
    const del = this.#prepare('DELETE FROM iam_roles WHERE account_id = ? AND role_name = ?')
    return this.#transaction(() => {
      if (exists.get(accountId, roleName) === undefined) return 'missing'
      if ((policies.get(accountId, roleName) as { n: number }).n > 0) return 'conflict'
      sessions.run(accountId, roleName)
      del.run(accountId, roleName)
      return 'deleted'
    })
  }

  async putRolePolicy(policy: RolePolicyRecord): Promise<boolean> {
    const p = policy
    return this.#prepare(`INSERT INTO iam_role_policies (account_id, role_name, policy_name, document)
      SELECT @a, @r, @p, @d WHERE EXISTS (SELECT 1 FROM iam_roles WHERE account_id = @a AND role_name = @r)
      ON CONFLICT (account_id, role_name, policy_name) DO UPDATE SET document = excluded.document`)
      .run({ a: p.accountId, r: p.roleName, p: p.policyName, d: p.document }).changes === 1
  }

  async getRolePolicy(accountId: string, roleName: string, policyName: string): Promise<RolePolicyRecord | undefined> {
    const row = this.#prepare('SELECT account_id, role_name, policy_name, document FROM iam_role_policies WHERE account_id = ? AND role_name = ? AND policy_name = ?')
      .get(accountId, roleName, policyName) as RolePolicyRow | undefined
    return row === undefined ? undefined : toRolePolicy(row)
  }

  async listRolePolicies(accountId: string, roleName: string): Promise<RolePolicyRecord[]> {
    return (this.#prepare('SELECT account_id, role_name, policy_name, document FROM iam_role_policies WHERE account_id = ? AND role_name = ? ORDER BY policy_name')
      .all(accountId, roleName) as RolePolicyRow[]).map(toRolePolicy)
  }

  async deleteRolePolicy(accountId: string, roleName: string, policyName: string): Promise<boolean> {
    return this.#prepare('DELETE FROM iam_role_policies WHERE account_id = ? AND role_name = ? AND policy_name = ?').run(accountId, roleName, policyName).changes === 1
  }

  async putRoleSession(session: RoleSessionRecord): Promise<boolean> {
    const x = session
    return this.#prepare(`INSERT INTO role_sessions (${SESSION_COLUMNS})
      SELECT @id, @a, @r, @rid, @s, @secret, @hash, @at, @exp, @policy, @tags WHERE EXISTS (SELECT 1 FROM iam_roles WHERE account_id = @a AND role_name = @r)
      ON CONFLICT DO NOTHING`)
      .run({ id: x.accessKeyId, a: x.accountId, r: x.roleName, rid: x.roleId, s: x.sessionName, secret: x.wrappedSecret, hash: x.tokenHash, at: x.createdAt, exp: x.expiresAt, policy: x.sessionPolicy ?? null, tags: tagsColumn(x.sessionTags) })
      .changes === 1
  }

  async listRoleSessionIds(accountId: string, roleName: string): Promise<string[]> {
    const rows = this.#prepare('SELECT access_key_id FROM role_sessions WHERE account_id = ? AND role_name = ? ORDER BY access_key_id').all(accountId, roleName)
    return (rows as Array<{ access_key_id: string }>).map((r) => r.access_key_id)
  }

  async recordKeyUsage(usages: readonly KeyUsageRecord[]): Promise<void> {
    if (usages.length === 0) return
    const upsert = this.#prepare(`INSERT INTO key_last_usage (key_id, operation, used_at, event_id, request_id)
      SELECT @keyId, @operation, @timestamp, @eventId, @requestId WHERE EXISTS (SELECT 1 FROM keys WHERE key_id = @keyId)
      ON CONFLICT (key_id) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at,
        event_id = excluded.event_id, request_id = excluded.request_id
      WHERE excluded.used_at >= key_last_usage.used_at`)
    this.#transaction(() => {
      for (const u of usages) upsert.run({ keyId: u.keyId, operation: u.operation, timestamp: u.timestamp, eventId: u.eventId, requestId: u.requestId })
    })
  }

  async getKeyLastUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const row = this.#prepare('SELECT key_id, operation, used_at, event_id, request_id FROM key_last_usage WHERE key_id = ?').get(keyId) as UsageRow | undefined
    return row === undefined ? undefined : toUsage(row)
  }

  async keyUsageTrackingStart(): Promise<number> {
    const row = this.#prepare(`SELECT applied_at FROM trent_migrations WHERE name = '0007-key-last-usage'`).get() as { applied_at: number } | undefined
    return row?.applied_at ?? 0
  }

  async listCanaryContexts(): Promise<CanaryContextRecord[]> {
    const rows = this.#prepare('SELECT context_key, context_value, created_at FROM canary_contexts ORDER BY context_key, context_value').all()
    return (rows as Array<{ context_key: string; context_value: string; created_at: number }>).map((r) => ({ key: r.context_key, value: r.context_value, createdAt: r.created_at }))
  }

  async putCanaryContext(record: CanaryContextRecord): Promise<boolean> {
    const r = this.#prepare('INSERT INTO canary_contexts (context_key, context_value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(record.key, record.value, record.createdAt)
    return r.changes === 1
  }

  async deleteCanaryContext(key: string, value: string): Promise<boolean> {
    return this.#prepare('DELETE FROM canary_contexts WHERE context_key = ? AND context_value = ?').run(key, value).changes === 1
  }

  async getRoleSession(accessKeyId: string): Promise<RoleSessionRecord | undefined> {
    const row = this.#prepare(`SELECT ${SESSION_COLUMNS} FROM role_sessions WHERE access_key_id = ?`).get(accessKeyId) as SessionRow | undefined
    return row === undefined ? undefined : toSession(row)
  }

  /** See {@link Store.createGrant}. */
  async createGrant(grant: GrantRecord, token: string): Promise<GrantRecord> {
    const sql = this.#sql()
    const g = grant
    const operations = JSON.stringify(g.operations)
    const constraints = jsonOrNull(g.constraints)
    return this.#transaction(() => {
      if (sql.keyExists.get(g.keyId) === undefined) throw new StoreConflictError(`key ${g.keyId} does not exist`)
      const same =
        g.name === undefined
          ? undefined
          : (sql.sameGrant.get(g.keyId, g.name, g.granteePrincipal, g.retiringPrincipal ?? null, operations, constraints) as GrantRow | undefined)
      const stored = same === undefined ? g : toGrant(same)
      if (same === undefined) {
        sql.insertGrant.run(g.grantId, g.keyId, g.name ?? null, g.granteePrincipal, g.retiringPrincipal ?? null, operations, constraints, g.issuingAccount, g.creationDate)
      }
      sql.insertGrantToken.run(grantTokenHash(token), stored.grantId)
      return { ...stored, operations: [...stored.operations] }
    })
  }

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const row = this.#sql().getGrant.get(grantId) as GrantRow | undefined
    return row === undefined ? undefined : toGrant(row)
  }

  async listGrants(keyId: string, options: { grantId?: string; granteePrincipal?: string; limit: number; after?: string }): Promise<GrantPage> {
    const { grantId, granteePrincipal, limit, after } = options
    checkLimit(limit)
    const scope = grantMarkerScope(keyId, grantId, granteePrincipal)
    const afterSeq = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
    const rows = this.#sql().listGrants.all({ keyId, after: afterSeq, grantId: grantId ?? null, grantee: granteePrincipal ?? null, limit: limit + 1 }) as GrantRow[]
    return grantPage(rows, limit, scope)
  }

  async listRetirableGrants(accountId: string, region: string, retiringPrincipal: string, options: { limit: number; after?: string }): Promise<GrantPage> {
    const { limit, after } = options
    checkLimit(limit)
    const scope = retirableGrantMarkerScope(accountId, region, retiringPrincipal)
    const afterSeq = after === undefined ? 0 : decodeSeq(decodeMarker(scope, after))
    const rows = this.#sql().listRetirable.all(retiringPrincipal, accountId, region, afterSeq, limit + 1) as GrantRow[]
    return grantPage(rows, limit, scope)
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    const sql = this.#sql()
    return this.#transaction(() => {
      sql.deleteGrantTokens.run(grantId)
      return sql.deleteGrant.run(grantId).changes === 1
    })
  }

  async grantByToken(token: string): Promise<GrantRecord | undefined> {
    const row = this.#sql().grantByToken.get(grantTokenHash(token)) as GrantRow | undefined
    return row === undefined ? undefined : toGrant(row)
  }

  async countGrants(keyId: string): Promise<number> {
    return (this.#sql().countGrants.get(keyId) as { n: number }).n
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

  #transaction<T>(body: () => T): T {
    const sql = this.#sql()
    sql.begin.run()
    try {
      const result = body()
      sql.commit.run()
      return result
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
    ...Object.fromEntries(keyLifecycleValues(key).map((v, i) => [KEY_LIFECYCLE_COLUMNS[i], v])),
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
    ...keyLifecycleFields(r, Number),
  }
}

function toAlias(r: AliasRow): AliasRecord {
  return {
    accountId: r.account_id,
    region: r.region,
    aliasName: r.alias_name,
    targetKeyId: r.key_id,
    creationDate: r.creation_date,
    lastUpdatedDate: r.last_updated_date,
  }
}

function toGrant(r: GrantRow): GrantRecord {
  return {
    grantId: r.grant_id,
    keyId: r.key_id,
    ...(r.name === null ? {} : { name: r.name }),
    granteePrincipal: r.grantee_principal,
    ...(r.retiring_principal === null ? {} : { retiringPrincipal: r.retiring_principal }),
    operations: JSON.parse(r.operations) as string[],
    ...(r.constraints === null ? {} : { constraints: JSON.parse(r.constraints) as GrantRecord['constraints'] & object }),
    issuingAccount: r.issuing_account,
    creationDate: r.creation_date,
  }
}

function grantPage(rows: GrantRow[], limit: number, scope: readonly string[]): GrantPage {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    grants: page.map(toGrant),
    ...(rows.length > limit && last !== undefined ? { nextMarker: encodeMarker(scope, encodeSeq(last.seq)) } : {}),
  }
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`)
}

/** A foreign key failure of an alias write as the StoreConflictError the alias methods document. */
function missingTarget(e: unknown, targetKeyId: string): unknown {
  return sqliteCode(e) === 'SQLITE_CONSTRAINT_FOREIGNKEY'
    ? new StoreConflictError(`key ${targetKeyId} does not exist`, { cause: e })
    : e
}

/** A plain Uint8Array that owns its bytes, so no caller holds a view into a driver's Buffer. */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

function sqliteCode(e: unknown): unknown {
  return typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined
}

function toCredential(row: CredentialRow): CredentialRecord {
  return {
    accessKeyId: row.access_key_id,
    accountId: row.account_id,
    principalArn: row.principal_arn,
    wrappedSecret: copy(row.wrapped_secret),
    createdAt: row.created_at,
    ...(row.user_name === null ? {} : { userName: row.user_name }),
  }
}

function toUser(r: UserRow): IamUserRecord {
  return { accountId: r.account_id, userName: r.user_name, userId: r.user_id, arn: r.arn, path: r.path, createdAt: r.created_at, ...tagsFromColumn(r.tags) }
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
  created_at: number
  max_session_duration: number
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
  created_at: number
  expires_at: number
  session_policy: string | null
  session_tags: string
}

function toRole(r: RoleRow): IamRoleRecord {
  return { accountId: r.account_id, roleName: r.role_name, roleId: r.role_id, arn: r.arn, path: r.path, trustPolicy: r.trust_policy, createdAt: r.created_at, maxSessionDuration: r.max_session_duration, ...(r.description === null ? {} : { description: r.description }), ...tagsFromColumn(r.tags) }
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
    wrappedSecret: new Uint8Array(r.wrapped_secret),
    tokenHash: new Uint8Array(r.token_hash),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    ...(r.session_policy === null ? {} : { sessionPolicy: r.session_policy }),
    ...sessionTagsFromColumn(r.session_tags),
  }
}

function toUserPolicy(r: UserPolicyRow): UserPolicyRecord {
  return { accountId: r.account_id, userName: r.user_name, policyName: r.policy_name, document: r.document }
}
