import type { SqliteDatabase } from './sqlite-config.js'

/** One schema change. Once released, a migration is never edited: changes go in a new one. */
export interface SqliteMigration {
  /** Unique, and sorted like the list it is in, e.g. `0001-initial`. */
  readonly name: string
  readonly sql: string
}

/** What {@link migrateSqlite} did. */
export interface SqliteMigrationReport {
  /** Names of the migrations applied by this call, in order; empty when the schema was current. */
  applied: string[]
}

/** The SQLite schema of Trent, oldest first. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    name: '0001-initial',
    sql: `
      CREATE TABLE domain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed BLOB NOT NULL
      ) STRICT;

      CREATE TABLE keys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id TEXT NOT NULL UNIQUE,
        arn TEXT NOT NULL,
        account_id TEXT NOT NULL,
        region TEXT NOT NULL,
        creation_date INTEGER NOT NULL,
        description TEXT NOT NULL,
        key_usage TEXT NOT NULL,
        key_spec TEXT NOT NULL,
        origin TEXT NOT NULL,
        key_state TEXT NOT NULL,
        key_manager TEXT NOT NULL,
        multi_region INTEGER NOT NULL CHECK (multi_region IN (0, 1)),
        current_key_material_id TEXT,
        deletion_date INTEGER,
        pending_window_in_days INTEGER,
        policy TEXT NOT NULL,
        tags TEXT NOT NULL CHECK (json_valid(tags)),
        version INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX keys_by_account_region ON keys (account_id, region, seq);

      CREATE TABLE key_materials (
        key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        key_material_id TEXT NOT NULL,
        ekt BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (key_id, key_material_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE aliases (
        account_id TEXT NOT NULL,
        region TEXT NOT NULL,
        alias_name TEXT NOT NULL,
        key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        creation_date INTEGER NOT NULL,
        last_updated_date INTEGER NOT NULL,
        PRIMARY KEY (account_id, region, alias_name)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX aliases_by_key ON aliases (key_id);

      CREATE TABLE credentials (
        access_key_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        principal_arn TEXT NOT NULL,
        wrapped_secret BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    name: '0002-lifecycle',
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      -- Partial: the deletion job scans only keys that are pending deletion, already in
      -- (deletion_date, seq) order, however many live keys there are.
      CREATE INDEX keys_due_for_deletion ON keys (deletion_date, seq) WHERE key_state = 'PendingDeletion';

      -- Serves ListAliases filtered by key in name order without a sort, and still leads with key_id
      -- for the foreign key and deleteKey, so it replaces aliases_by_key.
      CREATE INDEX aliases_by_key_and_name ON aliases (key_id, account_id, region, alias_name);
      DROP INDEX aliases_by_key;
    `,
  },
  {
    name: '0003-grants',
    sql: `
      CREATE TABLE grants (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        grant_id TEXT NOT NULL UNIQUE,
        key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        name TEXT,
        grantee_principal TEXT NOT NULL,
        retiring_principal TEXT,
        operations TEXT NOT NULL CHECK (json_valid(operations)),
        constraints TEXT CHECK (constraints IS NULL OR json_valid(constraints)),
        issuing_account TEXT NOT NULL,
        creation_date INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX grants_by_key ON grants (key_id, seq);
      CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, seq) WHERE retiring_principal IS NOT NULL;

      -- Only the SHA-256 of each token.
      CREATE TABLE grant_tokens (
        token_hash BLOB PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX grant_tokens_by_grant ON grant_tokens (grant_id);
    `,
  },
  {
    name: '0004-iam-users',
    sql: `
      CREATE TABLE iam_users (
        account_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        user_id TEXT NOT NULL UNIQUE,
        arn TEXT NOT NULL,
        path TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, user_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE iam_user_policies (
        account_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        policy_name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account_id, user_name, policy_name),
        FOREIGN KEY (account_id, user_name) REFERENCES iam_users (account_id, user_name)
      ) STRICT, WITHOUT ROWID;

      -- Access keys of IAM users; NULL for the account root's.
      ALTER TABLE credentials ADD COLUMN user_name TEXT;
      CREATE INDEX credentials_by_user ON credentials (account_id, user_name, created_at) WHERE user_name IS NOT NULL;
    `,
  },
  {
    name: '0005-iam-roles',
    sql: `
      CREATE TABLE iam_roles (
        account_id TEXT NOT NULL,
        role_name TEXT NOT NULL,
        role_id TEXT NOT NULL UNIQUE,
        arn TEXT NOT NULL,
        path TEXT NOT NULL,
        trust_policy TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, role_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE iam_role_policies (
        account_id TEXT NOT NULL,
        role_name TEXT NOT NULL,
        policy_name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account_id, role_name, policy_name),
        FOREIGN KEY (account_id, role_name) REFERENCES iam_roles (account_id, role_name)
      ) STRICT, WITHOUT ROWID;

      -- Temporary credentials from STS AssumeRole; the secret wrapped by the HSM, only a hash of the token.
      CREATE TABLE role_sessions (
        access_key_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        role_name TEXT NOT NULL,
        role_id TEXT NOT NULL,
        session_name TEXT NOT NULL,
        wrapped_secret BLOB NOT NULL,
        token_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX role_sessions_by_role ON role_sessions (account_id, role_name);
    `,
  },
  {
    name: '0006-key-material-lifecycle',
    sql: `
      -- Rotation settings and the imported material's expiry (see KeyRecord).
      ALTER TABLE keys ADD COLUMN rotation_period_in_days INTEGER;
      ALTER TABLE keys ADD COLUMN next_rotation_date INTEGER;
      ALTER TABLE keys ADD COLUMN on_demand_rotation_start_date INTEGER;
      ALTER TABLE keys ADD COLUMN pending_key_material_id TEXT;
      ALTER TABLE keys ADD COLUMN expiration_model TEXT;
      ALTER TABLE keys ADD COLUMN valid_to INTEGER;
      -- Partial, like keys_due_for_deletion: the rotation job scans only keys that rotate.
      CREATE INDEX keys_due_for_rotation ON keys (next_rotation_date, seq)
        WHERE key_state = 'Enabled' AND next_rotation_date IS NOT NULL;

      ALTER TABLE key_materials ADD COLUMN rotation_type TEXT;
      ALTER TABLE key_materials ADD COLUMN rotation_date INTEGER;
      ALTER TABLE key_materials ADD COLUMN import_state TEXT;
      ALTER TABLE key_materials ADD COLUMN expiration_model TEXT;
      ALTER TABLE key_materials ADD COLUMN valid_to INTEGER;
      ALTER TABLE key_materials ADD COLUMN description TEXT;
      CREATE INDEX key_materials_due_for_expiry ON key_materials (valid_to)
        WHERE import_state = 'IMPORTED' AND valid_to IS NOT NULL;

      -- Only the SHA-256 of each import token; the wrapping private key only as the HSM wrapped it.
      CREATE TABLE import_tokens (
        token_hash BLOB PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        wrapping_key_spec TEXT NOT NULL,
        wrapping_algorithm TEXT NOT NULL,
        wrapped_private_key BLOB NOT NULL,
        valid_to INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX import_tokens_by_key ON import_tokens (key_id);
    `,
  },
  {
    name: '0007-key-last-usage',
    sql: `
      -- GetKeyLastUsage: each key's last successful cryptographic use. Tracking starts when this
      -- migration runs (its applied_at in trent_migrations).
      CREATE TABLE key_last_usage (
        key_id TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        used_at INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        request_id TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    name: '0008-iam-role-settings',
    sql: `
      ALTER TABLE iam_roles ADD COLUMN description TEXT;
      ALTER TABLE iam_roles ADD COLUMN max_session_duration INTEGER NOT NULL DEFAULT 3600;
      ALTER TABLE role_sessions ADD COLUMN session_policy TEXT;
    `,
  },
  {
    name: '0009-canary-contexts',
    sql: `
      CREATE TABLE canary_contexts (
        context_key TEXT NOT NULL,
        context_value TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (context_key, context_value)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    name: '0010-iam-tags',
    sql: `
      -- Tags of IAM users and roles (aws:PrincipalTag), as JSON arrays of {Key, Value}.
      ALTER TABLE iam_users ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE iam_roles ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    name: '0011-role-session-tags',
    sql: `
      ALTER TABLE role_sessions ADD COLUMN session_tags TEXT NOT NULL DEFAULT '[]';
    `,
  },
]

/**
 * Applies the pending `migrations` in order, all in one transaction, and records each by name.
 * Refuses a database that records a migration this list does not know (it was written by a newer
 * Trent) or whose history is not a prefix of the list.
 */
export function migrateSqlite(
  db: SqliteDatabase,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): SqliteMigrationReport {
  // BEGIN IMMEDIATE takes SQLite's single write lock up front, so it is also the migration lock: a
  // second process waits (busy timeout) and then finds the migrations recorded.
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS trent_migrations (
      name TEXT PRIMARY KEY,
      applied_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID`)
    const recorded = new Set(
      (db.prepare('SELECT name FROM trent_migrations').all() as Array<{ name: string }>).map((r) => r.name),
    )
    const known = new Set(migrations.map((m) => m.name))
    const unknown = [...recorded].filter((name) => !known.has(name)).sort()
    if (unknown.length > 0) {
      throw new Error(
        `The database was migrated by a newer Trent (unknown migrations: ${unknown.join(', ')}); ` +
          'refusing to use it with this version.',
      )
    }
    const pending = migrations.filter((m) => !recorded.has(m.name))
    const firstPending = migrations.findIndex((m) => !recorded.has(m.name))
    if (firstPending >= 0 && migrations.slice(firstPending).some((m) => recorded.has(m.name))) {
      throw new Error(`The database's migration history has a gap before ${migrations[firstPending]!.name}; refusing to use it.`)
    }
    const record = db.prepare('INSERT INTO trent_migrations (name, applied_at) VALUES (?, ?)')
    for (const m of pending) {
      db.exec(m.sql)
      record.run(m.name, Date.now())
    }
    db.exec('COMMIT')
    return { applied: pending.map((m) => m.name) }
  } catch (e) {
    // SQLite rolls back by itself after some errors (e.g. SQLITE_FULL); a second ROLLBACK would throw.
    if (db.inTransaction) db.exec('ROLLBACK')
    throw e
  }
}
