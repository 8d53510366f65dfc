/**
 * Checkpoints of the SQLite WAL on a thread of their own.
 *
 * A checkpoint copies the WAL's pages into the database file and syncs both
 * (under NORMAL, the only syncs there are). SQLite runs one inside the commit
 * that takes the WAL past `wal_autocheckpoint` pages: that commit, and the
 * event loop with it, waits for two fsyncs and the copy. Here a worker with a
 * connection of its own checkpoints instead, `PASSIVE` (it never waits for
 * the writer, nor makes it wait), nudged every few hundred commits. The
 * writer's own checkpoint stays, at a higher mark, as the backstop: should
 * the worker fall behind, fail or never start, the WAL stays bounded.
 *
 * The worker starts at the first nudge, so a process that commits little
 * (the CLI's one-shot commands) never pays for a thread. It waits on a
 * shared counter (`Atomics.wait`), not for messages, so it is nudged without
 * the writer's event loop taking a turn.
 */
import type Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"

/**
 * Transactions between two nudges: a few hundred WAL pages (a step's commit writes about one since the log
 * is keyed by position), a checkpoint's worth. Each checkpoint syncs the database file: 500 gave steps a
 * tenth more speed than 200, 1,000 no more (docs/design.md).
 */
export const NUDGE_EVERY = 500

/** The writer's own checkpoint: four times SQLite's default mark, reached only if the worker falls behind. */
export const BACKSTOP_PAGES = 4000

const SQLITE_DEFAULT_PAGES = 1000

// The shared counters: [0] the nudges (the writer moves it; STOP ends the worker), [1] checkpoints done.
const NUDGES = 0
const DONE = 1
const STOP = -1

// Plain CommonJS for `eval`: the same text runs under the built package and under a test runner's sources.
const program = `
const { workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const counters = workerData.counters
const db = new Database(workerData.filename, { fileMustExist: true })
let seen = 0
for (;;) {
  Atomics.wait(counters, ${NUDGES}, seen)
  seen = Atomics.load(counters, ${NUDGES})
  if (seen === ${STOP}) break
  // Busy (another connection checkpoints): the next nudge, or the writer's backstop, does it. Any other
  // failure ends the worker, and the writer takes SQLite's usual checkpoints back.
  let result
  try {
    ;[result] = db.pragma("wal_checkpoint(PASSIVE)")
  } catch (error) {
    db.close()
    throw error
  }
  if (result.busy === 0) Atomics.add(counters, ${DONE}, 1)
}
db.close()
`

export interface Checkpointer {
  /** Tells the checkpointer a transaction was committed. */
  readonly committed: () => void
  /** How many checkpoints the worker has completed. */
  readonly checkpoints: () => number
}

/** SQLite's own checkpoints, inside commits. */
export const none: Checkpointer = { committed: () => {}, checkpoints: () => 0 }

/** How long closing waits for the worker's checkpoint in progress before it leaves the thread behind. */
const STOP_TIMEOUT_MS = 10_000

/**
 * Tells the worker to stop and waits for it to exit, at most `timeoutMs` of real time (not the fiber's
 * Clock, which a test may hold still). Past that, it is told to terminate, which takes effect once a native
 * call in progress returns, and no longer kept alive: the writer's connection then closes before the
 * worker's, which leaves the WAL for the next open to replay, as after a crash.
 */
export const stop = (worker: Worker, counters: Int32Array, timeoutMs: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const done = () => {
      clearTimeout(timer)
      resume(Effect.void)
    }
    const timer = setTimeout(() => {
      worker.off("exit", done)
      worker.unref()
      void worker.terminate()
      resume(Effect.void)
    }, timeoutMs)
    worker.once("exit", done)
    // Kept alive until the worker is gone: unreferenced, the process could exit before the writer's
    // connection is closed (with nothing else left to do, as a `runPromise(...).then(...)` has).
    worker.ref()
    Atomics.store(counters, NUDGES, STOP)
    Atomics.notify(counters, NUDGES)
    // Exited already (it failed): no exit event is left to come.
    if (worker.threadId === -1) done()
  })

/**
 * Hands the WAL's checkpoints of `db` to a worker, until the scope closes; closing waits for the worker's
 * connection to close, so that the writer's is the last and removes the WAL. A database that has no WAL
 * (in memory) keeps SQLite's checkpoints.
 */
export const make = (db: Database.Database): Effect.Effect<Checkpointer, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (db.memory || db.pragma("journal_mode", { simple: true }) !== "wal") return none
    // The file as SQLite resolved it when it opened it: a relative name would be resolved again, against
    // whatever the working directory is when the worker starts.
    const filename = (db.pragma("database_list") as Array<{ name: string; file: string }>)
      .find((database) => database.name === "main")!.file
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    const counters = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT))
    let worker: Worker | undefined
    // Failed, or closing: no more nudges (one would overwrite STOP).
    let failed = false
    let transactions = 0
    const fail = () => {
      failed = true
      // SQLite checkpoints at its usual mark again, inside commits.
      if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`)
    }
    const start = (): Worker | undefined => {
      try {
        const started = new Worker(program, {
          eval: true,
          workerData: { driver: createRequire(import.meta.url).resolve("better-sqlite3"), filename, counters }
        })
        // A process that never closes the storage still exits.
        started.unref()
        started.on("error", fail)
        return started
      } catch {
        fail()
        return undefined
      }
    }
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        failed = true
        const stopping = worker
        return stopping === undefined ? Effect.void : stop(stopping, counters, STOP_TIMEOUT_MS)
      })
    )
    return {
      committed: () => {
        if (++transactions < NUDGE_EVERY || failed) return
        transactions = 0
        worker ??= start()
        if (worker === undefined) return
        // Never STOP: the count wraps within the positive range.
        Atomics.store(counters, NUDGES, (Atomics.load(counters, NUDGES) + 1) & 0x3fffffff)
        Atomics.notify(counters, NUDGES)
      },
      checkpoints: () => Atomics.load(counters, DONE)
    }
  })
