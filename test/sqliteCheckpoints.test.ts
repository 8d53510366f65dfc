/**
 * The SQLite WAL checkpointed on a worker thread (`checkpointer.ts`): it
 * happens, off the commits; the writer keeps its own checkpoint as a
 * backstop, and takes SQLite's usual one back when the worker cannot run;
 * closing ends the worker before the writer's connection, which then removes
 * the WAL, even in a process that has nothing else to keep it alive and
 * whatever is committed meanwhile; and a process killed while checkpoints
 * run loses nothing it reported stored.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import * as Checkpointer from "../src/internal/storage/checkpointer.js"
import { until } from "./helpers.js"
import { runProcess } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-checkpoints-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `db-${files++}.sqlite`)

/** A WAL database with one table, as the storage opens its file. */
const openWal = (filename: string) => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec("create table rows (id integer primary key, payload text not null)")
  return db
}

/** `count` transactions of one row each, each told to the checkpointer. */
const commit = (db: Database.Database, checkpointer: Checkpointer.Checkpointer, count: number) => {
  const insert = db.prepare("insert into rows (payload) values (?)")
  for (let i = 0; i < count; i++) {
    insert.run("x".repeat(200))
    checkpointer.committed()
  }
}

/** The journal entries stored, by execution and key: in the table, or (a step's end) in the log's rows. */
const journaled = (db: Database.Database) =>
  db.prepare(`select count(*) from (
    select execution_id, key from workflow_journal
    union select x.id, e.journal_key from workflow_events e join workflow_executions x using (log_key)
      where e.journal_key is not null)`).pluck().get() as number

const autocheckpoint = (db: Database.Database) => db.pragma("wal_autocheckpoint", { simple: true })

/** A WAL database on a fresh file and its checkpointer, in a scope the test closes. */
const checkpointed = Effect.gen(function*() {
  const filename = freshFile()
  const db = openWal(filename)
  const scope = yield* Scope.make()
  const checkpointer = yield* Scope.extend(Checkpointer.make(db), scope)
  return { checkpointer, db, filename, scope }
})

/** `db`, closed with the test's scope, after the checkpointer (made later, so closed first). */
const closing = (db: Database.Database) => Effect.addFinalizer(() => Effect.sync(() => db.close()))

describe("background checkpoints", () => {
  it.effect("run on the worker once nudged, with the writer's own checkpoint left as a backstop", () =>
    Effect.gen(function*() {
      const { checkpointer, db, filename, scope } = yield* checkpointed
      expect(autocheckpoint(db)).toBe(Checkpointer.BACKSTOP_PAGES)
      const before = statSync(filename).size

      // Fewer pages than the backstop: only the worker can have copied them into the database file.
      commit(db, checkpointer, Checkpointer.NUDGE_EVERY - 1)
      expect(checkpointer.checkpoints()).toBe(0)
      commit(db, checkpointer, 4 * Checkpointer.NUDGE_EVERY)
      yield* until("the worker checkpoints", Effect.sync(() => checkpointer.checkpoints() > 0))
      expect(statSync(filename).size).toBeGreaterThan(before)
      expect(db.prepare("select count(*) as n from rows").get()).toEqual({ n: 5 * Checkpointer.NUDGE_EVERY - 1 })

      // Closed: the worker's connection first, so that the writer's is the last one and removes the WAL.
      yield* Scope.close(scope, Exit.void)
      db.close()
      expect(existsSync(`${filename}-wal`)).toBe(false)
    }))

  it.effect("give the writer SQLite's usual checkpoint back when the worker cannot open the database", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const db = openWal(filename)
      yield* closing(db)
      const checkpointer = yield* Checkpointer.make(db)
      expect(autocheckpoint(db)).toBe(Checkpointer.BACKSTOP_PAGES)
      // The writer goes on with the file it has open; the worker, which opens it by name, finds none.
      unlinkSync(filename)
      commit(db, checkpointer, Checkpointer.NUDGE_EVERY)
      yield* until("the writer checkpoints as SQLite does by default", Effect.sync(() => autocheckpoint(db) === 1000))
      // Nudges after the failure start nothing and fail nothing.
      commit(db, checkpointer, 2 * Checkpointer.NUDGE_EVERY)
      expect(checkpointer.checkpoints()).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("are not made for a database in memory, which has no WAL", () =>
    Effect.gen(function*() {
      const db = new Database(":memory:")
      db.exec("create table rows (id integer primary key, payload text not null)")
      yield* closing(db)
      const checkpointer = yield* Checkpointer.make(db)
      commit(db, checkpointer, 2 * Checkpointer.NUDGE_EVERY)
      expect(checkpointer.checkpoints()).toBe(0)
      expect(autocheckpoint(db)).toBe(1000)
    }).pipe(Effect.scoped))

  it.effect("checkpoint the file the writer opened, whatever the working directory is when the worker starts", () =>
    Effect.gen(function*() {
      const home = process.cwd()
      const [first, second] = [join(dir, "cwd-a"), join(dir, "cwd-b")]
      mkdirSync(first)
      mkdirSync(second)
      process.chdir(first)
      try {
        const db = openWal("relative.sqlite")
        yield* closing(db)
        // Another database of that name where the worker would look, were the name resolved again.
        openWal(join(second, "relative.sqlite")).close()
        const checkpointer = yield* Checkpointer.make(db)
        const before = statSync(join(first, "relative.sqlite")).size
        process.chdir(second)
        commit(db, checkpointer, 4 * Checkpointer.NUDGE_EVERY)
        yield* until("the worker checkpoints", Effect.sync(() => checkpointer.checkpoints() > 0))
        expect(statSync(join(first, "relative.sqlite")).size).toBeGreaterThan(before)
      } finally {
        process.chdir(home)
      }
    }).pipe(Effect.scoped))

  it.effect("stop, and closing ends, however many commits are told while it closes", () =>
    Effect.gen(function*() {
      const { checkpointer, db, filename, scope } = yield* checkpointed
      commit(db, checkpointer, Checkpointer.NUDGE_EVERY)
      // Closing runs up to its wait for the worker at once; the commits come while it waits.
      const closing = Effect.runFork(Scope.close(scope, Exit.void))
      commit(db, checkpointer, 2 * Checkpointer.NUDGE_EVERY)
      yield* Fiber.join(closing)
      db.close()
      expect(existsSync(`${filename}-wal`)).toBe(false)
    }))

  it.effect("closing leaves a worker that does not stop behind after its timeout, ended once it can be", () =>
    Effect.gen(function*() {
      // A worker that never looks at the counter: as one stuck in a checkpoint would be.
      const stuck = new Worker("setInterval(() => {}, 1000)", { eval: true })
      const exited = new Promise<void>((resolve) => stuck.once("exit", () => resolve()))
      yield* Effect.promise(() => new Promise((resolve) => stuck.once("online", resolve)))
      const counters = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT))
      // Under `it.effect`'s TestClock, which never moves here: the timeout is in real time.
      yield* Checkpointer.stop(stuck, counters, 200)
      yield* Effect.promise(() => exited)
      expect(stuck.threadId).toBe(-1)
    }))

  const steps = Workflow.make({
    name: "checkpointed-steps",
    run: (n: number) =>
      Effect.gen(function*() {
        let total = 0
        for (let i = 0; i < n; i++) total += yield* Workflow.step(`step-${i}`, Effect.succeed(i))
        return total
      })
  })

  for (const backgroundCheckpoints of [true, false]) {
    it.effect(`leave the storage whole and no WAL behind once closed (backgroundCheckpoints: ${backgroundCheckpoints})`, () =>
      Effect.gen(function*() {
        const filename = freshFile()
        const storage = ExecutionStorage.layerSqlite({ filename, backgroundCheckpoints })
        // More transactions than a nudge's worth: the worker, if any, has started.
        const results = yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handles = yield* Effect.forEach(Array.from({ length: 30 }), () => engine.start(steps, 10), {
            concurrency: "unbounded"
          })
          return yield* Effect.forEach(handles, (handle) => handle.result, { concurrency: "unbounded" })
        }).pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provide(storage))))
        expect(results).toEqual(Array.from({ length: 30 }, () => 45))
        expect(existsSync(`${filename}-wal`)).toBe(false)
        const db = new Database(filename, { readonly: true })
        try {
          expect(db.pragma("quick_check", { simple: true })).toBe("ok")
          expect(journaled(db)).toBe(300)
        } finally {
          db.close()
        }
      }))
  }

  it("lose no stored step when the process is killed while they run", async () => {
    const filename = freshFile()
    const fixture = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures", "checkpointing.ts")
    const killed = await runProcess(["--import", "tsx", fixture, filename, "endless"], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      // Once the database file has taken a checkpoint and the steps go on: the kill lands among them.
      killWhen: (stdout) => /^checkpointed$/m.test(stdout) && (stdout.match(/^stored /gm)?.length ?? 0) >= 3
    })
    expect(killed.signal).toBe("SIGKILL")
    const reported = Math.max(...[...killed.stdout.matchAll(/^stored (\d+)$/gm)].map((match) => Number(match[1])))

    const db = new Database(filename)
    try {
      expect(db.pragma("quick_check", { simple: true })).toBe("ok")
      const seqs = db.prepare("select seq from workflow_events order by seq").pluck().all() as Array<number>
      expect(seqs).toEqual(seqs.map((_, i) => i + 1))
      expect(journaled(db)).toBeGreaterThanOrEqual(reported)
    } finally {
      db.close()
    }
  }, 120_000)

  it(
    "end before a process with nothing else to do exits, so that its storage is closed and its WAL removed",
    async () => {
      const filename = freshFile()
      const fixture = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures", "checkpointing.ts")
      const finished = await runProcess(["--import", "tsx", fixture, filename, "burst"], {
        cwd: fileURLToPath(new URL("..", import.meta.url))
      })
      expect(finished.stderr).toBe("")
      expect(finished.code).toBe(0)
      expect(finished.stdout.split("\n")).toEqual(["done 30", "WAL left: false", ""])
    },
    120_000
  )
})
