/**
 * Bad input to the durable storage: a file that is not a database, a
 * truncated one, a row that no longer decodes, schemas older and newer than
 * this library's, two processes on one file, payloads too large or not JSON.
 * Each gives a clear error and loses nothing already stored.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { migrations, SCHEMA_VERSION } from "../src/internal/storage/migrations.js"
import { startEngine } from "./helpers.js"
import { startProcess } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-bad-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string) => join(dir, `${name}-${Math.random().toString(36).slice(2, 8)}.db`)
/** Runs `f` with the storage of `filename`, open for as long as `f` runs. */
const withStorageOn = <A, E>(
  filename: string,
  f: (storage: ExecutionStorage.ExecutionStorageService) => Effect.Effect<A, E>
) => Effect.provide(Effect.flatMap(ExecutionStorage.ExecutionStorage, f), ExecutionStorage.layerSqlite({ filename }))
const opening = (filename: string) => withStorageOn(filename, () => Effect.void)

/** A database with one completed execution in it. */
const seeded = (filename: string) =>
  Effect.gen(function*() {
    const storage = yield* ExecutionStorage.ExecutionStorage
    yield* storage.create({ id: "kept", workflow: "w", input: { n: 1 }, status: "running" })
    yield* storage.commit("kept", {
      events: [{ type: "log", timestamp: 1, level: "info", message: "hello" }],
      status: "completed",
      output: 42
    })
  }).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename })))

describe("SQLite storage, bad input", () => {
  it.effect("refuses a file that is not a database, and leaves it as it was", () =>
    Effect.gen(function*() {
      const filename = file("garbage")
      writeFileSync(filename, "this is not a database, it is a note".repeat(200))
      const before = readFileSync(filename)
      const error = yield* Effect.flip(opening(filename))
      expect(error._tag).toBe("StorageError")
      expect(error.message).toContain(`"${filename}" cannot be used as a SQLite database`)
      expect(error.message).toContain("file is not a database")
      expect(readFileSync(filename).equals(before)).toBe(true)
    }))

  it.effect("refuses a truncated database without touching it further", () =>
    Effect.gen(function*() {
      const filename = file("truncated")
      yield* seeded(filename)
      const db = new Database(filename)
      db.pragma("wal_checkpoint(TRUNCATE)")
      db.close()
      truncateSync(filename, Math.floor(statSync(filename).size / 2))
      const size = statSync(filename).size
      const error = yield* Effect.flip(opening(filename))
      expect(error.message).toContain("cannot be used as a SQLite database")
      expect(statSync(filename).size).toBe(size)
    }))

  it.effect("names the row whose JSON no longer decodes, and still serves the rest", () =>
    Effect.gen(function*() {
      // Each way an event's stored text can be wrong: not JSON, or JSON that is not an event's object.
      const bad = [
        ["{oops", "is not valid JSON"],
        ["42", "is not a JSON object"],
        ["null", "is not a JSON object"],
        ["[1,2]", "is not a JSON object"],
        [`"text"`, "is not a JSON object"]
      ] as const
      for (const [payload, reason] of bad) {
        const filename = file("badrow")
        yield* seeded(filename)
        const db = new Database(filename)
        db.prepare(`update workflow_events set payload = ?
          where log_key = (select log_key from workflow_executions where id = 'kept') and seq = 1`).run(payload)
        db.prepare("update workflow_executions set output = '{oops' where id = 'kept'").run()
        db.close()
        yield* withStorageOn(filename, (storage) =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(storage.events("kept", { fromSeq: 1, limit: 10 }))
            expect(error._tag).toBe("StorageError")
            expect(error.message).toContain(`event 1 of execution "kept" ${reason}`)
            const unread = yield* Effect.flip(storage.get("kept"))
            expect(unread.message).toContain(`the output of execution "kept" is not valid JSON`)
            // The rest of the log is still served.
            expect(yield* storage.events("kept", { fromSeq: 2, limit: 10 })).toEqual([])
          }))
        const reopened = new Database(filename)
        expect(reopened.prepare("select payload from workflow_events where seq = 1").get()).toEqual({ payload })
        reopened.close()
      }
    }))

  it.effect("migrates a database of an older schema version, keeping its executions", () =>
    Effect.gen(function*() {
      const filename = file("old")
      // A database as the first schema version left it.
      yield* Effect.gen(function*() {
        yield* Migrator.make({})({
          loader: Migrator.fromRecord({ "1_executions_events_journal": migrations["1_executions_events_journal"] }),
          table: "workflow_migrations"
        })
        const sql = yield* SqlClient.SqlClient
        yield* sql`insert into workflow_executions (id, workflow, input, status, created_at, updated_at, last_seq)
          values ('old-one', 'w', '{"n":1}', 'waiting', 1, 1, 1)`
        yield* sql`insert into workflow_events (execution_id, seq, type, payload)
          values ('old-one', 1, 'human_approval_required', '{"type":"human_approval_required","timestamp":1,"taskId":"t","dataForApproval":1}')`
        yield* sql`insert into workflow_journal (execution_id, key, name, kind, state, task_id)
          values ('old-one', '0', 'approval:t', 'approval', 'waiting', 't')`
      }).pipe(Effect.provide(SqliteClient.layer({ filename })))
      yield* withStorageOn(filename, (storage) =>
        Effect.gen(function*() {
          expect(yield* storage.get("old-one")).toMatchObject({ status: "waiting", input: { n: 1 } })
          expect(yield* storage.claim("old-one", "me", 60_000)).toBe(true)
          // Its log and journal came through the later migrations (on SQLite, tables rebuilt in key order).
          expect(yield* storage.events("old-one", { fromSeq: 1, limit: 10 })).toMatchObject([{ seq: 1, taskId: "t" }])
          yield* storage.commit("old-one", { answer: { taskId: "t", value: "yes" }, status: "running", owner: "me" })
          expect(yield* storage.journal("old-one")).toMatchObject([{ key: "0", state: "completed", taskId: "t" }])
        }))
    }))

  it.effect("refuses a database of a newer schema version than this library knows", () =>
    Effect.gen(function*() {
      const filename = file("newer")
      yield* seeded(filename)
      const db = new Database(filename)
      db.prepare("insert into workflow_migrations (migration_id, name) values (99, 'from_the_future')").run()
      db.close()
      const error = yield* Effect.flip(opening(filename))
      expect(error.message).toContain(
        `the database has schema version 99, newer than the ${SCHEMA_VERSION} this library knows`
      )
      const reopened = new Database(filename)
      expect(reopened.prepare("select status from workflow_executions where id = 'kept'").get()).toEqual({
        status: "completed"
      })
      reopened.close()
    }))

  it.scoped("rejects a payload that is too large or not JSON, storing nothing of it", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const echo = Workflow.make({ name: "echo", run: (input: string) => Effect.succeed(input.length) })
      const huge = "x".repeat(ExecutionStorage.MAX_PAYLOAD_CHARS + 1)
      const before = yield* engine.executions()
      const tooLarge = yield* Effect.flip(engine.start(echo, huge))
      expect(tooLarge).toMatchObject({ _tag: "InvalidPayload" })
      expect(tooLarge.message).toContain("over the limit of 16777216")
      expect(yield* engine.executions()).toEqual(before)

      const bigint = Workflow.make({
        name: "bigint",
        run: () => Workflow.step("count", Effect.succeed(10n))
      })
      const handle = yield* engine.start(bigint, undefined)
      const error = yield* Effect.flip(handle.result)
      expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
      if (error._tag === "WorkflowFailed") {
        expect(error.error.message).toContain(`step "count"`)
        expect(error.error.message).toContain("a BigInt")
        expect(error.error.message).toContain("`success` schema")
      }
    }).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename: file("payload") }))))
})

describe("SQLite storage, two processes", () => {
  const root = fileURLToPath(new URL("..", import.meta.url))
  const run = (args: ReadonlyArray<string>) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures/worker.ts"), ...args], {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"]
      })
      let stdout = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.on("exit", (code) => resolve({ code, stdout }))
    })

  /**
   * A file in rollback mode, as another program may leave it, and a process writing to it until its stdin
   * ends. Turning the file to WAL takes a write lock, which SQLite refuses at once (without its busy wait)
   * while another process holds one.
   */
  const writtenElsewhere = (filename: string) =>
    Effect.gen(function*() {
      new Database(filename).exec("create table other (a)").close()
      const holder = startProcess([
        "-e",
        `const db = new (require("better-sqlite3"))(${JSON.stringify(filename)})
         db.exec("begin immediate"); db.exec("insert into other values (1)")
         console.log("holding")
         process.stdin.resume().on("end", () => { db.exec("commit"); db.close() })`
      ], { cwd: root })
      yield* Effect.addFinalizer(() => Effect.sync(holder.kill))
      yield* Effect.promise(() => holder.line((line) => line === "holding"))
      return holder
    })

  // Live: the open waits on the clock.
  it.live(
    "opens a file another process is writing, waiting for its lock instead of failing",
    () =>
      Effect.gen(function*() {
        const filename = file("locked")
        const holder = yield* writtenElsewhere(filename)
        const opened = yield* Effect.fork(
          withStorageOn(
            filename,
            (storage) => storage.create({ id: "after", workflow: "w", input: {}, status: "running" })
          )
        )
        // Still waiting, well past the moment SQLite itself gave up, until the other process commits.
        yield* Effect.sleep("300 millis")
        expect(opened.unsafePoll()).toBeNull()
        holder.endInput()
        yield* opened
        expect((yield* Effect.promise(() => holder.exit())).code).toBe(0)
        const db = new Database(filename, { readonly: true })
        expect(db.prepare("select count(*) as n from other").get()).toEqual({ n: 1 })
        db.close()
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )

  it.live("names the lock it waited for, once busyTimeoutMs has passed", () =>
    Effect.gen(function*() {
      const filename = file("held")
      yield* writtenElsewhere(filename)
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, ExecutionStorage.layerSqlite({ filename, busyTimeoutMs: 200 }))
      )
      expect(error.message).toContain("another process held its lock for longer than busyTimeoutMs (200 ms)")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("lets two processes run executions on one file at once", () =>
    Effect.gen(function*() {
      const filename = file("shared")
      const [a, b] = yield* Effect.promise(() =>
        Promise.all([run([filename, "steps", "a"]), run([filename, "steps", "b"])])
      )
      expect([a.code, b.code]).toEqual([0, 0])
      expect(a.stdout).toContain("result 2470")
      expect(b.stdout).toContain("result 2470")
      yield* withStorageOn(filename, (storage) =>
        Effect.forEach(["a", "b"], (id) =>
          Effect.gen(function*() {
            expect((yield* storage.get(id)).status).toBe("completed")
            const events = yield* storage.events(id, { fromSeq: 1, limit: 1000 })
            expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
          })))
    }), { timeout: 60_000 })
})
