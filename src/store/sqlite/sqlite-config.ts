/**
 * The slice of a better-sqlite3 `Database` that {@link SqliteStore} uses. The composition root
 * opens the real database and passes it in, so this layer depends on the shape, not the package.
 *
 * @module
 */

/** Result of running a statement that writes. */
export interface SqliteRunResult {
  changes: number
  lastInsertRowid: number | bigint
}

/** A prepared statement. Parameters are bound positionally. */
export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult
  /** The first row as an object keyed by column name, or undefined when there is none. */
  get(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
}

/** An open SQLite connection, as better-sqlite3 12.x provides it. */
export interface SqliteDatabase {
  /** True for an in-memory database (`:memory:`). */
  readonly memory: boolean
  /** True while a transaction is open; SQLite may roll one back by itself on some errors. */
  readonly inTransaction: boolean
  prepare(source: string): SqliteStatement
  /** Runs one or more statements without parameters. */
  exec(source: string): unknown
  /** Runs a PRAGMA; with `simple`, returns the first column of the first row. */
  pragma(source: string, options: { simple: true }): unknown
  close(): unknown
}
