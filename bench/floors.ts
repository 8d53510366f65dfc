/**
 * The floors of the durable benchmarks (DESIGN.md §8): the minimal work that
 * gives a step's guarantee, never a copy of our statements (a floor that
 * copies our round trips hides them).
 * - SQLite: one INSERT in its own transaction (better-sqlite3 autocommits a
 *   lone statement), on a fresh file with our pragmas: WAL and the row's
 *   `synchronous`. Its WAL is checkpointed between rounds, untimed, once a
 *   thousand writes have gone into it, as ours is by a thread of its own: left
 *   to SQLite's automatic checkpoint (every 1,000 pages, in the writer), every
 *   other round of 500 writes took one, and the floor's median of a few
 *   rounds was 7-10 or 22-30 ms depending on which it fell on.
 * - PostgreSQL: one autocommitted INSERT, one round trip, on one `pg` client.
 * - memory: a `Map` set and the resolution of a promise the caller awaits,
 *   what storing a step's result in memory and handing it on cannot go below.
 */
import Database from "better-sqlite3"
import pg from "pg"
import { wallNow } from "./harness.js"

export type Synchronous = "NORMAL" | "FULL"

export interface Floor {
  /** One durable write of a step result, settled once it has the guarantee. */
  readonly write: () => Promise<void>
  /** Untimed, before each round: the upkeep ours does in the background (SQLite's checkpoint). */
  readonly settle?: () => void
  readonly close: () => Promise<void>
}

/** Writes to the floor's WAL between two checkpoints. */
const CHECKPOINT_AFTER = 1000

const payload = (value: number) => JSON.stringify({ _tag: "Success", value })

export const sqliteFloor = (filename: string, synchronous: Synchronous): Floor => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma("wal_autocheckpoint = 0")
  db.exec("create table floor (id integer primary key, payload text not null)")
  const insert = db.prepare("insert into floor (payload) values (?)")
  let written = 0
  let checkpointed = 0
  return {
    write: async () => {
      insert.run(payload(written++))
    },
    settle: () => {
      if (written - checkpointed < CHECKPOINT_AFTER) return
      db.pragma("wal_checkpoint(TRUNCATE)")
      checkpointed = written
    },
    close: async () => {
      db.close()
    }
  }
}

let pgTables = 0

export const pgFloor = async (url: string): Promise<Floor> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const table = `floor_${pgTables++}`
  await client.query(`create table ${table} (id bigserial primary key, payload text not null)`)
  const insert = `insert into ${table} (payload) values ($1)`
  let written = 0
  return {
    write: async () => {
      await client.query(insert, [payload(written++)])
    },
    close: () => client.end()
  }
}

export const memoryFloor = (): Floor => {
  const stored = new Map<number, string>()
  return {
    write: () =>
      new Promise<void>((resolve) => {
        stored.set(stored.size, payload(stored.size))
        resolve()
      }),
    close: async () => stored.clear()
  }
}

/** Milliseconds `count` writes take, one after another (each settled before the next). */
export const writes = (floor: Floor, count: number) => async (): Promise<number> => {
  floor.settle?.()
  const started = performance.now()
  for (let i = 0; i < count; i++) await floor.write()
  return performance.now() - started
}

/**
 * Latencies of `count` inserts that each NOTIFY, from one client until another that LISTENs hears it
 * (the least that tells another process of a durable write), `pauseMs` apart.
 */
export const notifyLatencies = async (url: string, count: number, pauseMs = 0): Promise<Array<number>> => {
  const writer = new pg.Client({ connectionString: url })
  const listener = new pg.Client({ connectionString: url })
  await Promise.all([writer.connect(), listener.connect()])
  try {
    await writer.query("create table if not exists notify_floor (id bigserial primary key, payload text)")
    await listener.query("listen notify_floor")
    const latencies: Array<number> = []
    for (let i = 0; i < count; i++) {
      const heard = new Promise<void>((resolve) => listener.once("notification", () => resolve()))
      const sent = wallNow()
      await writer.query(
        `with stored as (insert into notify_floor (payload) values ($1) returning id)
         select pg_notify('notify_floor', id::text) from stored`,
        [String(i)]
      )
      await heard
      latencies.push(wallNow() - sent)
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
    return latencies
  } finally {
    await Promise.all([writer.end(), listener.end()])
  }
}
