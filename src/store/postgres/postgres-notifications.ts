/**
 * Cross-node change reports on PostgreSQL: the writes of {@link PostgresStore} NOTIFY one channel
 * in the transaction that makes the change (so the report goes out only if it commits, and only
 * after), and a {@link PostgresChangeFeed} LISTENs on a connection of its own and hands the reports
 * to the store's subscribers, usually within milliseconds of the commit.
 *
 * @module
 */
import { randomInt } from 'node:crypto'
import type { StoreChange } from '../store.js'
import type { PgListenClient, PgNotification } from './postgres-config.js'

/**
 * The one channel Trent notifies on. Channels are per database, not per schema, so a payload
 * names the schema of the writer and a feed ignores other schemas' reports.
 */
export const CHANGE_CHANNEL = 'trent_changes'

/** SQL: the schema that the statement's unqualified table names resolve to, as a payload names it. */
const SCHEMA_SQL = "coalesce(current_schema(), '')"

/**
 * SQL that sends a report that key `keyIdSql` (an SQL expression) changed:
 * `{"s": schema, "k": key id}`.
 */
export function notifyKeySql(keyIdSql: string): string {
  return `pg_notify('${CHANGE_CHANNEL}', json_build_object('s', ${SCHEMA_SQL}, 'k', ${keyIdSql})::text)`
}

/**
 * SQL that sends a report that the alias named by the three SQL expressions changed:
 * `{"s": schema, "a": [account id, region, alias name]}`.
 */
export function notifyAliasSql(accountIdSql: string, regionSql: string, aliasNameSql: string): string {
  return `pg_notify('${CHANGE_CHANNEL}', json_build_object('s', ${SCHEMA_SQL}, 'a', json_build_array(${accountIdSql}, ${regionSql}, ${aliasNameSql}))::text)`
}

/** SQL that sends a report that access key `accessKeyIdSql` was deleted: `{"s": schema, "c": access key id}`. */
export function notifyAccessKeySql(accessKeyIdSql: string): string {
  return `pg_notify('${CHANGE_CHANNEL}', json_build_object('s', ${SCHEMA_SQL}, 'c', ${accessKeyIdSql})::text)`
}

/**
 * SQL that sends a report that an IAM user (`kind` 'u') or role ('r') changed:
 * `{"s": schema, "u"|"r": [account id, name]}`.
 */
export function notifyPrincipalSql(kind: 'u' | 'r', accountIdSql: string, nameSql: string): string {
  return `pg_notify('${CHANGE_CHANNEL}', json_build_object('s', ${SCHEMA_SQL}, '${kind}', json_build_array(${accountIdSql}, ${nameSql}))::text)`
}

/** The change a payload of schema `schema` reports; undefined for another schema's or a malformed payload. */
export function parseChange(payload: string | undefined, schema: string): StoreChange | undefined {
  if (payload === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const p = value as { s?: unknown; k?: unknown; a?: unknown; c?: unknown; u?: unknown; r?: unknown }
  if (p.s !== schema) return undefined
  if (typeof p.k === 'string') return { keyId: p.k }
  if (typeof p.c === 'string') return { accessKeyId: p.c }
  const principal = (v: unknown): { accountId: string; name: string } | undefined =>
    Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string') ? { accountId: v[0] as string, name: v[1] as string } : undefined
  const user = principal(p.u)
  if (user) return { user: { accountId: user.accountId, userName: user.name } }
  const role = principal(p.r)
  if (role) return { role: { accountId: role.accountId, roleName: role.name } }
  if (Array.isArray(p.a) && p.a.length === 3 && p.a.every((x) => typeof x === 'string')) {
    const [accountId, region, aliasName] = p.a as [string, string, string]
    return { alias: { accountId, region, aliasName } }
  }
  return undefined
}

/** Options of {@link PostgresChangeFeed}. */
export interface PostgresChangeFeedOptions {
  /** Makes a new, unconnected client for the listening connection (not one from the pool). */
  connect: () => PgListenClient
  /** Receives every report of this feed's schema, and `{ everything: true }` after each (re)connection. */
  onChange: (change: StoreChange) => void
  /** Where the loss and the recovery of the connection are reported, once each. */
  log: (message: string) => void
  /** First delay before reconnecting; doubled per failed attempt. Default 100 ms. */
  minDelayMs?: number
  /** Longest delay between attempts. Default 2000 ms. */
  maxDelayMs?: number
}

/**
 * Keeps one connection LISTENing on {@link CHANGE_CHANNEL}, reconnecting with exponential backoff
 * (and jitter) whenever it fails or PostgreSQL restarts. The client's 'error' events are handled,
 * so a dying connection never crashes the process.
 *
 * Reports sent while the connection is down are lost: after each successful (re)connection the
 * feed reports `{ everything: true }`, and in between only the readers' own bounds (the cache TTL)
 * limit staleness.
 */
export class PostgresChangeFeed {
  readonly #connect: () => PgListenClient
  readonly #onChange: (change: StoreChange) => void
  readonly #log: (message: string) => void
  readonly #minDelay: number
  readonly #maxDelay: number
  #client: PgListenClient | undefined
  #timer: NodeJS.Timeout | undefined
  #attempts = 0
  #started = false
  #stopped = false
  #listening = false
  /** Set while not listening after having listened, or after the first attempt failed: reported once. */
  #outageSince: number | undefined
  readonly #firstAttempt: Promise<void>
  #firstAttemptDone!: () => void

  constructor(options: PostgresChangeFeedOptions) {
    this.#connect = options.connect
    this.#onChange = options.onChange
    this.#log = options.log
    this.#minDelay = options.minDelayMs ?? 100
    this.#maxDelay = options.maxDelayMs ?? 2000
    this.#firstAttempt = new Promise((resolve) => (this.#firstAttemptDone = resolve))
  }

  /** True while the connection is up and LISTENing. */
  get listening(): boolean {
    return this.#listening
  }

  /** Starts connecting (once). */
  start(): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    void this.#attempt()
  }

  /** Resolves once the first connection attempt has succeeded or failed (it is retried either way). */
  ready(): Promise<void> {
    return this.#firstAttempt
  }

  /** Stops listening and reconnecting, and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#listening = false
    clearTimeout(this.#timer)
    this.#firstAttemptDone()
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => undefined)
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined
    if (this.#stopped) return
    let client: PgListenClient
    try {
      client = this.#connect()
    } catch (e) {
      this.#failed(e)
      return
    }
    this.#client = client
    let schema = ''
    let lost = false
    const onLost = (e?: unknown): void => {
      if (lost) return
      lost = true
      if (this.#client === client) this.#client = undefined
      client.end().catch(() => undefined)
      if (!this.#stopped) this.#failed(e ?? new Error('the connection closed'))
    }
    client.on('error', (e) => onLost(e))
    client.on('end', () => onLost())
    client.on('notification', (m) => {
      if (!lost) this.#notified(m, schema)
    })
    try {
      await client.connect()
      const row = (await client.query(`SELECT ${SCHEMA_SQL} AS schema`)).rows[0] as { schema: string }
      schema = row.schema
      await client.query(`LISTEN ${CHANGE_CHANNEL}`)
    } catch (e) {
      onLost(e)
      return
    }
    if (lost || this.#stopped) return
    this.#attempts = 0
    this.#listening = true
    if (this.#outageSince !== undefined) {
      const seconds = ((Date.now() - this.#outageSince) / 1000).toFixed(1)
      this.#outageSince = undefined
      this.#log(`trent: listening for other nodes' changes again (after ${seconds} s)`)
    }
    // Whatever was reported while no connection listened is lost: drop everything.
    this.#deliver({ everything: true })
    this.#firstAttemptDone()
  }

  #failed(e: unknown): void {
    this.#listening = false
    if (this.#outageSince === undefined) {
      this.#outageSince = Date.now()
      this.#log(
        `trent: not listening for other nodes' changes (${e instanceof Error ? e.message : String(e)}); ` +
          'until the connection is back, changes made through other nodes are seen here only when cached reads expire (cache TTL)',
      )
    }
    this.#firstAttemptDone()
    if (this.#stopped) return
    const delay = Math.min(this.#maxDelay, this.#minDelay * 2 ** this.#attempts)
    this.#attempts = Math.min(this.#attempts + 1, 30)
    // Jitter, so nodes that lost the database together do not all come back in the same instant.
    this.#timer = setTimeout(() => void this.#attempt(), delay * (0.5 + randomInt(0, 1001) / 2000))
    this.#timer.unref()
  }

  #notified(message: PgNotification, schema: string): void {
    if (message.channel !== CHANGE_CHANNEL) return
    const change = parseChange(message.payload, schema)
    if (change !== undefined) this.#deliver(change)
  }

  #deliver(change: StoreChange): void {
    try {
      this.#onChange(change)
    } catch (e) {
      this.#log(`trent: a change listener failed: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}
