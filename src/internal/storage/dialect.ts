/**
 * The SQL dialects the storages speak, and the database's clock in each: a
 * module of its own, so that the statements of notices (pgNotices.ts) and
 * of commits (commitProgram.ts) can both use it.
 */

/** The SQL dialects the storages speak. */
export type Dialect = "pg" | "sqlite"

/**
 * The database's now, in ms since the epoch, as a SQL expression: leases are set and compared on the
 * database's clock, read when the statement runs, never on a caller's.
 */
export const dbNow: Record<Dialect, string> = {
  // clock_timestamp(), not now(): now() is when the transaction began, possibly before a wait for a lock.
  pg: "(extract(epoch from clock_timestamp()) * 1000)::bigint",
  sqlite: "cast(unixepoch('subsec') * 1000 as integer)"
}
