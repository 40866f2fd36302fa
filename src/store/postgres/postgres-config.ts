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
