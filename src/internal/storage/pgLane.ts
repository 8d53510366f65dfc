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

/**
 * `pg`'s client as the pool sees it: it can stop keeping the process alive, and says whether it can still
 * be queried (`pg-pool` reads the same fields), though its typings say neither.
 */
type Lent = pg.PoolClient & {
  readonly ref?: () => void
  readonly unref?: () => void
  readonly _queryable?: boolean
  readonly _ending?: boolean
}

const lostWhileIdle = new Error("the lane's connection was lost while idle")

/** A lane over `pool`, whose size is `connections`: none where the pool has no connection to spare. */
export const make = (pool: pg.Pool, connections: number): Lane => {
  if (connections < 2) return { query: (config) => pool.query(config), close: () => undefined }
  let client: Lent | undefined
  let busy = false
  let closed = false
  const onLost = () => {
    // Held, the connection is not watched by the pool, which drops its idle ones when the server ends them
    // (an idle timeout, a restart): dropped here too, so that no commit is sent on it. A statement in flight
    // fails on its own.
    if (!busy) handBack(lostWhileIdle)
  }
  const handBack = (error?: Error) => {
    const lent = client
    if (lent === undefined) return
    client = undefined
    lent.removeListener("error", onLost)
    lent.removeListener("end", onLost)
    // With an error the pool drops the connection, as `pool.query` does after any failed statement: it may
    // have been lost, or ended by the server.
    lent.release(error)
  }
  const take = async (): Promise<Lent> => {
    // Lost in a way that was not heard yet: nothing was sent on it.
    if (client !== undefined && (client._queryable === false || client._ending === true)) handBack(lostWhileIdle)
    if (client === undefined) {
      const fresh: Lent = await pool.connect()
      fresh.on("error", onLost)
      fresh.on("end", onLost)
      client = fresh
    }
    return client
  }
  return {
    query: async (config) => {
      if (busy || closed) return pool.query(config)
      busy = true
      try {
        const lent = await take()
        // Idle, it does not keep the process alive, as the pool's idle connections do not.
        lent.ref?.()
        try {
          return await lent.query(config)
        } finally {
          lent.unref?.()
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
