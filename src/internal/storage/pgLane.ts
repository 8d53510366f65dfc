/**
 * A connection of the commits' pool kept checked out for statements made one
 * at a time: a query through the pool checks a connection out and back in
 * (two timers, an event, a tick) every time, which cost 5-8 % of a step of a
 * run on PostgreSQL. A statement sent while the lane is busy goes through
 * the pool, so concurrent commits are not queued behind each other.
 */
import pg from "pg"

export interface Lane {
  /** Runs one statement, on the lane's connection if it is free, else on a connection of the pool. */
  readonly query: (config: pg.QueryConfig) => Promise<pg.QueryResult>
  /** Hands the connection back to the pool (at once, or once its statement ends): before the pool ends. */
  readonly close: () => void
}

/** `pg`'s client can stop keeping the process alive, but its typings do not say so. */
type Referable = pg.PoolClient & { readonly ref?: () => void; readonly unref?: () => void }

export const make = (pool: pg.Pool): Lane => {
  let client: Referable | undefined
  let busy = false
  let closed = false
  const handBack = (error?: Error) => {
    const lent = client
    client = undefined
    // With an error the pool drops the connection, as `pool.query` does after any failed statement: it may
    // have been lost, or ended by the server.
    lent?.release(error)
  }
  return {
    query: async (config) => {
      if (busy || closed) return pool.query(config)
      busy = true
      try {
        client ??= await pool.connect()
        // Idle, it does not keep the process alive, as the pool's idle connections do not.
        client.ref?.()
        try {
          return await client.query(config)
        } finally {
          client?.unref?.()
        }
      } catch (error) {
        handBack(error instanceof Error ? error : new Error(String(error)))
        throw error
      } finally {
        busy = false
        if (closed) handBack()
      }
    },
    close: () => {
      closed = true
      if (!busy) handBack()
    }
  }
}
