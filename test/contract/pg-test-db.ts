/**
 * Where the PostgreSQL tests find their server: `TRENT_TEST_PG_URL` (or `DATABASE_URL`), set by the
 * caller or by scripts/run-tests.mjs, which starts a private cluster (scripts/pg-test-cluster.sh)
 * when it can. Without one these tests skip with one line, unless `TRENT_TEST_PG_REQUIRED=1` (CI),
 * which makes them fail instead.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const PG_URL = process.env['TRENT_TEST_PG_URL'] || process.env['DATABASE_URL'] || undefined
export const PG_REQUIRED = process.env['TRENT_TEST_PG_REQUIRED'] === '1'
export const PG_SKIP_MESSAGE = 'PostgreSQL tests skipped: set TRENT_TEST_PG_URL'

/**
 * The `skip` option for the top-level suite of a PostgreSQL test file: a reason when there is no
 * server (so the runner prints that one line), false when there is one or when it is required.
 */
export function pgSkip(): string | false {
  return PG_URL === undefined && !PG_REQUIRED ? PG_SKIP_MESSAGE : false
}

/** The test URL; throws (failing the test) when it is required and missing. */
export function pgUrl(): string {
  if (PG_URL === undefined) throw new Error(`TRENT_TEST_PG_REQUIRED=1 but neither TRENT_TEST_PG_URL nor DATABASE_URL is set`)
  return PG_URL
}

/** A name that is safe to interpolate as an identifier: a prefix and random hex. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}

/** `url` with its database replaced by `database`. */
export function urlOfDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** A pool on the test server whose sessions use `schema` (created beforehand) for their tables. */
export function schemaPool(url: string, schema: string, max = 4): pg.Pool {
  return new pg.Pool({ connectionString: url, max, options: `-c search_path=${schema}`, application_name: schema })
}

/** One pool on the test database for creating and dropping schemas and databases. */
export class PgAdmin {
  readonly pool: pg.Pool
  readonly #schemas: string[] = []
  readonly #databases: string[] = []

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 })
    this.pool.on('error', () => undefined)
  }

  /** Creates an empty schema, dropped by {@link PgAdmin.cleanup}. */
  async createSchema(prefix = 'trent_test'): Promise<string> {
    const schema = uniqueName(prefix)
    await this.pool.query(`CREATE SCHEMA ${schema}`)
    this.#schemas.push(schema)
    return schema
  }

  /** Creates an empty database and returns its URL; dropped by {@link PgAdmin.cleanup}. */
  async createDatabase(url: string, prefix = 'trent_test'): Promise<string> {
    const database = uniqueName(prefix)
    await this.pool.query(`CREATE DATABASE ${database}`)
    this.#databases.push(database)
    return urlOfDatabase(url, database)
  }

  /** Drops what it created and ends its pool. */
  async cleanup(): Promise<void> {
    try {
      for (const schema of this.#schemas.splice(0)) await this.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      for (const database of this.#databases.splice(0)) await this.pool.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    } finally {
      await this.pool.end()
    }
  }
}
