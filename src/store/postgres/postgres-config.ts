/**
 * The slice of a node-postgres (`pg` 8.x) `Pool` that {@link PostgresStore} uses. The composition
 * root creates the real pool and passes it in, so this layer depends on the shape, not the package.
 *
 * @module
 */

/** What a query answers. Rows are objects keyed by column name, with pg's default type parsing. */
export interface PgQueryResult {
  rows: unknown[]
  /** Rows inserted, updated, deleted or returned; null for statements that report none. */
  rowCount: number | null
}

/** Anything that runs a parameterised statement (`$1`, `$2`, …). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>
}

/** A connection checked out of the pool: one session, so a transaction runs on it. */
export interface PgPoolClient extends PgQueryable {
  /** Returns it to the pool; with an error (or true) the connection is closed instead. */
  release(destroy?: Error | boolean): void
  /**
   * A checked-out client emits 'error' when its connection dies (e.g. PostgreSQL restarts); an
   * 'error' event without a listener would crash the process.
   */
  on(event: 'error', listener: (error: Error) => void): unknown
  removeListener(event: 'error', listener: (error: Error) => void): unknown
}

/** A pool of connections, as `new pg.Pool(config)` gives. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>
  end(): Promise<void>
  /**
   * The pool emits 'error' when an idle connection dies; without a listener the process crashes.
   * The pool drops that connection by itself and opens a new one when needed.
   */
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** A notification as a LISTENing connection receives it. */
export interface PgNotification {
  channel: string
  payload?: string | undefined
}

/**
 * One connection of its own, outside the pool, as `new pg.Client(config)` gives: LISTEN belongs to
 * a session, so the connection that listens must stay open (and idle) for as long as it listens.
 */
export interface PgListenClient extends PgQueryable {
  connect(): Promise<unknown>
  end(): Promise<void>
  /**
   * 'notification' for each NOTIFY on a channel it listens to; 'error' when the connection fails
   * while no query runs (without a listener that would crash the process); 'end' when it closed.
   */
  on(event: 'notification', listener: (message: PgNotification) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'end', listener: () => void): unknown
}
