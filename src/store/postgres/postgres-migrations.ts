import type { PgPool } from './postgres-config.js'

/** One schema change. Once released, a migration is never edited: changes go in a new one. */
export interface PostgresMigration {
  /** Unique, and sorted like the list it is in, e.g. `0001-initial`. */
  readonly name: string
  /** One or more statements, run with the simple query protocol (no parameters). */
  readonly sql: string
}

/** What {@link migratePostgres} did. */
export interface PostgresMigrationReport {
  /** Names of the migrations applied by this call, in order; empty when the schema was current. */
  applied: string[]
}

/**
 * First key of the two-key advisory lock that serialises migrations ("TRNT" in ASCII); the second
 * is a hash of the schema, so Trent instances in different schemas of one database do not wait for
 * each other.
 */
const MIGRATION_LOCK = 0x54524e54

/**
 * The PostgreSQL schema of Trent, oldest first. It has the SQLite schema's tables and meaning, with
 * these differences:
 *
 * - `keys.list_position` orders ListKeys instead of SQLite's `seq`. It counts per account and
 *   region in `key_list_positions`, whose row CreateKey locks until it commits, so positions are
 *   handed out in commit order: a key that a listing has not seen yet always sorts after every key
 *   it has seen, and paging never skips one. (An identity or sequence would not do that: a
 *   transaction that took a lower number can commit after one that took a higher number, and a
 *   listing that already passed the higher one would never show it.) `seq` (an identity) only
 *   breaks ties of the deletion job's order.
 * - `aliases.alias_name` has the "C" collation, so names sort by their UTF-8 bytes (the database
 *   must be UTF8, which {@link migratePostgres} checks), as in SQLite's BINARY collation.
 * - `keys.description_json` holds the description as a JSON string, because PostgreSQL text cannot
 *   hold U+0000 and AWS allows any character in a description (tags are JSON text already).
 * - `key_materials.ekt` has STORAGE PLAIN: never compressed or moved out of line into a TOAST
 *   table, so deleting the row deletes the only copy in the table's files (see PostgresStore.deleteKey).
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    name: '0001-initial',
    sql: `
      CREATE TABLE domain (
        id integer PRIMARY KEY CHECK (id = 1),
        sealed bytea NOT NULL
      );

      CREATE TABLE key_list_positions (
        account_id text NOT NULL,
        region text NOT NULL,
        last_position bigint NOT NULL,
        PRIMARY KEY (account_id, region)
      );

      CREATE TABLE keys (
        key_id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        list_position bigint NOT NULL,
        arn text NOT NULL,
        account_id text NOT NULL,
        region text NOT NULL,
        creation_date bigint NOT NULL,
        -- The description as a JSON string: it may hold U+0000, which a text value cannot.
        description_json text NOT NULL,
        key_usage text NOT NULL,
        key_spec text NOT NULL,
        origin text NOT NULL,
        key_state text NOT NULL,
        key_manager text NOT NULL,
        multi_region boolean NOT NULL,
        current_key_material_id text,
        deletion_date bigint,
        pending_window_in_days integer,
        policy text NOT NULL,
        -- JSON text exactly as written (jsonb would normalise it); the cast checks that it parses.
        tags text NOT NULL CHECK (json_typeof(tags::json) = 'array'),
        version bigint NOT NULL,
        CONSTRAINT keys_list_order UNIQUE (account_id, region, list_position)
      );
      -- Partial: the deletion job scans only keys that are pending deletion, already in order.
      CREATE INDEX keys_due_for_deletion ON keys (deletion_date, seq) WHERE key_state = 'PendingDeletion';

      CREATE TABLE key_materials (
        key_id text NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        key_material_id text NOT NULL,
        ekt bytea NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (key_id, key_material_id)
      );
      ALTER TABLE key_materials ALTER COLUMN ekt SET STORAGE PLAIN;

      CREATE TABLE aliases (
        account_id text NOT NULL,
        region text NOT NULL,
        alias_name text COLLATE "C" NOT NULL,
        key_id text NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        creation_date bigint NOT NULL,
        last_updated_date bigint NOT NULL,
        PRIMARY KEY (account_id, region, alias_name)
      );
      -- Serves ListAliases of one key in name order, and the foreign key and deleteKey.
      CREATE INDEX aliases_by_key_and_name ON aliases (key_id, account_id, region, alias_name);

      CREATE TABLE credentials (
        access_key_id text PRIMARY KEY,
        account_id text NOT NULL,
        principal_arn text NOT NULL,
        wrapped_secret bytea NOT NULL,
        created_at bigint NOT NULL
      );

      CREATE TABLE leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at bigint NOT NULL
      );
    `,
  },
  {
    name: '0002-grants',
    sql: `
      CREATE TABLE grants (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        grant_id text NOT NULL UNIQUE,
        key_id text NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        name text,
        grantee_principal text NOT NULL,
        retiring_principal text,
        operations text NOT NULL,
        constraints text,
        issuing_account text NOT NULL,
        creation_date bigint NOT NULL
      );
      CREATE INDEX grants_by_key ON grants (key_id, seq);
      CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, seq) WHERE retiring_principal IS NOT NULL;

      -- Only the SHA-256 of each token.
      CREATE TABLE grant_tokens (
        token_hash bytea PRIMARY KEY,
        grant_id text NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE
      );
      CREATE INDEX grant_tokens_by_grant ON grant_tokens (grant_id);
    `,
  },
  {
    name: '0003-iam-users',
    sql: `
      CREATE TABLE iam_users (
        account_id text NOT NULL,
        user_name text COLLATE "C" NOT NULL,
        user_id text NOT NULL UNIQUE,
        arn text NOT NULL,
        path text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (account_id, user_name)
      );

      CREATE TABLE iam_user_policies (
        account_id text NOT NULL,
        user_name text COLLATE "C" NOT NULL,
        policy_name text COLLATE "C" NOT NULL,
        document text NOT NULL,
        PRIMARY KEY (account_id, user_name, policy_name),
        FOREIGN KEY (account_id, user_name) REFERENCES iam_users (account_id, user_name)
      );

      -- Access keys of IAM users; NULL for the account root's.
      ALTER TABLE credentials ADD COLUMN user_name text COLLATE "C";
      CREATE INDEX credentials_by_user ON credentials (account_id, user_name, created_at) WHERE user_name IS NOT NULL;
    `,
  },
  {
    name: '0004-iam-roles',
    sql: `
      CREATE TABLE iam_roles (
        account_id text NOT NULL,
        role_name text COLLATE "C" NOT NULL,
        role_id text NOT NULL UNIQUE,
        arn text NOT NULL,
        path text NOT NULL,
        trust_policy text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (account_id, role_name)
      );

      CREATE TABLE iam_role_policies (
        account_id text NOT NULL,
        role_name text COLLATE "C" NOT NULL,
        policy_name text COLLATE "C" NOT NULL,
        document text NOT NULL,
        PRIMARY KEY (account_id, role_name, policy_name),
        FOREIGN KEY (account_id, role_name) REFERENCES iam_roles (account_id, role_name)
      );

      -- Temporary credentials from STS AssumeRole; the secret wrapped by the HSM, only a hash of the token.
      CREATE TABLE role_sessions (
        access_key_id text PRIMARY KEY,
        account_id text NOT NULL,
        role_name text COLLATE "C" NOT NULL,
        role_id text NOT NULL,
        session_name text NOT NULL,
        wrapped_secret bytea NOT NULL,
        token_hash bytea NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX role_sessions_by_role ON role_sessions (account_id, role_name);
    `,
  },
  {
    name: '0006-key-material-lifecycle',
    sql: `
      -- Rotation settings and the imported material's expiry (see KeyRecord).
      ALTER TABLE keys ADD COLUMN rotation_period_in_days bigint;
      ALTER TABLE keys ADD COLUMN next_rotation_date bigint;
      ALTER TABLE keys ADD COLUMN on_demand_rotation_start_date bigint;
      ALTER TABLE keys ADD COLUMN pending_key_material_id text;
      ALTER TABLE keys ADD COLUMN expiration_model text;
      ALTER TABLE keys ADD COLUMN valid_to bigint;
      CREATE INDEX keys_due_for_rotation ON keys (next_rotation_date, seq)
        WHERE key_state = 'Enabled' AND next_rotation_date IS NOT NULL;

      ALTER TABLE key_materials ADD COLUMN rotation_type text;
      ALTER TABLE key_materials ADD COLUMN rotation_date bigint;
      ALTER TABLE key_materials ADD COLUMN import_state text;
      ALTER TABLE key_materials ADD COLUMN expiration_model text;
      ALTER TABLE key_materials ADD COLUMN valid_to bigint;
      ALTER TABLE key_materials ADD COLUMN description text;
      CREATE INDEX key_materials_due_for_expiry ON key_materials (valid_to)
        WHERE import_state = 'IMPORTED' AND valid_to IS NOT NULL;

      -- Only the SHA-256 of each import token; the wrapping private key only as the HSM wrapped it.
      CREATE TABLE import_tokens (
        token_hash bytea PRIMARY KEY,
        key_id text NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        wrapping_key_spec text NOT NULL,
        wrapping_algorithm text NOT NULL,
        wrapped_private_key bytea NOT NULL,
        valid_to bigint NOT NULL
      );
      CREATE INDEX import_tokens_by_key ON import_tokens (key_id);
    `,
  },
  {
    name: '0007-key-last-usage',
    sql: `
      -- GetKeyLastUsage: each key's last successful cryptographic use. Tracking starts when this
      -- migration runs (its applied_at in trent_migrations).
      CREATE TABLE key_last_usage (
        key_id text PRIMARY KEY,
        operation text NOT NULL,
        used_at bigint NOT NULL,
        event_id text NOT NULL,
        request_id text NOT NULL
      );
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
        context_key text NOT NULL,
        context_value text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (context_key, context_value)
      );
    `,
  },
  {
    name: '0010-iam-tags',
    sql: `
      -- Tags of IAM users and roles (aws:PrincipalTag), as JSON arrays of {Key, Value}.
      ALTER TABLE iam_users ADD COLUMN tags text NOT NULL DEFAULT '[]';
      ALTER TABLE iam_roles ADD COLUMN tags text NOT NULL DEFAULT '[]';
    `,
  },
  {
    name: '0011-role-session-tags',
    sql: `
      ALTER TABLE role_sessions ADD COLUMN session_tags text NOT NULL DEFAULT '[]';
    `,
  },
]

/**
 * Applies the pending `migrations` in order, all in one transaction, and records each by name.
 * Refuses a database that records a migration this list does not know (it was written by a newer
 * Trent), whose history is not a prefix of the list, or whose encoding is not UTF8.
 *
 * Several nodes may start at once: the transaction first takes a transaction-scoped advisory lock
 * (`pg_advisory_xact_lock`), so the others wait, then find the migrations recorded and apply none.
 * The lock goes with the transaction, so a node that dies mid-migration cannot leave it held.
 * Tables are created in the first schema of the connection's `search_path`.
 */
export async function migratePostgres(
  pool: PgPool,
  migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS,
): Promise<PostgresMigrationReport> {
  const client = await pool.connect()
  let broken: Error | undefined
  const onError = (e: Error): void => {
    broken = e
  }
  client.on('error', onError)
  try {
    await client.query('BEGIN')
    try {
      const report = await migrateInTransaction(client, migrations)
      await client.query('COMMIT')
      return report
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      })
      throw e
    }
  } finally {
    client.removeListener('error', onError)
    client.release(broken)
  }
}

async function migrateInTransaction(
  client: { query: PgPool['query'] },
  migrations: readonly PostgresMigration[],
): Promise<PostgresMigrationReport> {
  await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK}, hashtext(coalesce(current_schema(), '')))`)
  const encoding = (await client.query("SELECT current_setting('server_encoding') AS encoding")).rows[0] as { encoding: string }
  if (encoding.encoding !== 'UTF8') {
    throw new Error(`The database's encoding is ${encoding.encoding}; Trent needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8').`)
  }
  await client.query(`CREATE TABLE IF NOT EXISTS trent_migrations (
    name text PRIMARY KEY,
    applied_at bigint NOT NULL
  )`)
  const recorded = new Set(
    ((await client.query('SELECT name FROM trent_migrations')).rows as Array<{ name: string }>).map((r) => r.name),
  )
  const known = new Set(migrations.map((m) => m.name))
  const unknown = [...recorded].filter((name) => !known.has(name)).sort()
  if (unknown.length > 0) {
    throw new Error(
      `The database was migrated by a newer Trent (unknown migrations: ${unknown.join(', ')}); ` +
        'refusing to use it with this version.',
    )
  }
  const firstPending = migrations.findIndex((m) => !recorded.has(m.name))
  if (firstPending >= 0 && migrations.slice(firstPending).some((m) => recorded.has(m.name))) {
    throw new Error(`The database's migration history has a gap before ${migrations[firstPending]!.name}; refusing to use it.`)
  }
  const pending = migrations.filter((m) => !recorded.has(m.name))
  for (const m of pending) {
    await client.query(m.sql)
    await client.query('INSERT INTO trent_migrations (name, applied_at) VALUES ($1, $2)', [m.name, Date.now()])
  }
  return { applied: pending.map((m) => m.name) }
}
