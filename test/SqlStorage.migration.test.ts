/**
 * A SQLite database written before parent links (schema version 4, built
 * with the real migrations up to it) opens with this library: it is migrated,
 * and its executions are read, listed, resumed and cancelled as before, with
 * no parent.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { afterAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { migrations, SCHEMA_VERSION } from "../src/internal/storage/migrations.js"
import { collect, expectContiguous, startEngine } from "./helpers.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-migration-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The migrations up to `version`, as a database of that version ran them. */
const migrationsUpTo = (version: number) =>
  Object.fromEntries(Object.entries(migrations).filter(([name]) => Number(name.split("_")[0]) <= version))

const event = (seq: number, payload: Record<string, unknown>) => ({
  seq,
  type: payload.type as string,
  payload: JSON.stringify({ timestamp: 1, ...payload })
})

/**
 * A database at schema version 4 with three executions in it: one left
 * running by a process that died (its lease long expired) after its first
 * step, one waiting for an approval, one completed.
 */
const version4 = (filename: string) =>
  Effect.gen(function*() {
    yield* Migrator.make({})({ loader: Migrator.fromRecord(migrationsUpTo(4)), table: "workflow_migrations" })
    const sql = yield* SqlClient.SqlClient
    const execution = (
      row: { id: string; workflow: string; input: unknown; status: string; output?: unknown; lastSeq: number },
      createdAt: number
    ) =>
      sql`insert into workflow_executions
            (id, workflow, input, status, output, created_at, updated_at, last_seq, owner, lease_until)
          values (${row.id}, ${row.workflow}, ${JSON.stringify(row.input)}, ${row.status},
            ${row.output === undefined ? null : JSON.stringify(row.output)}, ${createdAt}, ${createdAt},
            ${row.lastSeq}, ${row.status === "running" ? "a-process-that-died" : null},
            ${row.status === "running" ? createdAt + 30_000 : null})`
    const events = (id: string, rows: ReadonlyArray<ReturnType<typeof event>>) =>
      Effect.forEach(rows, ({ payload, seq, type }) =>
        sql`insert into workflow_events (execution_id, seq, type, payload)
            values (${id}, ${seq}, ${type}, ${payload})`)

    yield* execution({ id: "old-running", workflow: "legacy", input: { n: 1 }, status: "running", lastSeq: 2 }, 1_000)
    yield* events("old-running", [
      event(1, { type: "step_start", runnableName: "a", input: null }),
      event(2, { type: "step_end", runnableName: "a", output: 2 })
    ])
    yield* sql`insert into workflow_journal (execution_id, key, name, kind, state, result)
      values ('old-running', '0', 'a', 'step', 'completed', ${JSON.stringify({ _tag: "Success", value: 2 })})`

    yield* execution({ id: "old-waiting", workflow: "legacy-asks", input: null, status: "waiting", lastSeq: 1 }, 2_000)
    yield* events("old-waiting", [event(1, { type: "human_approval_required", taskId: "t", dataForApproval: 1 })])
    yield* sql`insert into workflow_journal (execution_id, key, name, kind, state, task_id)
      values ('old-waiting', '0', 'approval:t', 'approval', 'waiting', 't')`

    yield* execution(
      { id: "old-done", workflow: "legacy", input: { n: 5 }, status: "completed", output: { b: 11 }, lastSeq: 1 },
      3_000
    )
    yield* events("old-done", [event(1, { type: "final_output", data: { b: 11 } })])
  }).pipe(Effect.provide(SqliteClient.layer({ filename })))

const columns = (db: Database.Database) =>
  (db.prepare("select name from pragma_table_info('workflow_executions')").all() as Array<{ name: string }>).map((
    column
  ) => column.name)

describe("SQLite storage, a database from before parent links", () => {
  it.live("migrates it, and its executions are read, listed, resumed and cancelled, with no parent", () =>
    Effect.gen(function*() {
      const filename = join(dir, "version4.db")
      yield* version4(filename)
      const before = new Database(filename)
      expect(before.prepare("select max(migration_id) as version from workflow_migrations").get()).toEqual({
        version: 4
      })
      expect(columns(before)).not.toContain("parent")
      before.close()

      const counts = { a: 0, b: 0 }
      const kid = Workflow.make({ name: "legacy-kid", run: (n: number) => Effect.succeed(n * 10) })
      yield* Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        // Read: as stored, and without a parent.
        const running = yield* storage.get("old-running")
        expect(running).toMatchObject({ workflow: "legacy", input: { n: 1 }, status: "running", lastSeq: 2 })
        const done = yield* storage.get("old-done")
        expect(done).toMatchObject({ status: "completed", output: { b: 11 } })
        for (const record of [running, done, yield* storage.get("old-waiting")]) {
          expect(record).not.toHaveProperty("parent")
        }
        // Listed, with the filters as before; a parent filter finds none of them.
        const listed = yield* storage.list({ workflow: "legacy" })
        expect(listed.executions.map((e) => e.id)).toEqual(["old-done", "old-running"])
        for (const record of listed.executions) expect(record).not.toHaveProperty("parent")
        expect((yield* storage.list({ status: "waiting" })).executions.map((e) => e.id)).toEqual(["old-waiting"])
        expect((yield* storage.list({ parent: "old-running" })).executions).toEqual([])

        const { engine } = yield* startEngine({ recover: false })
        const legacy = Workflow.make({
          name: "legacy",
          input: Schema.Struct({ n: Schema.Number }),
          run: ({ n }) =>
            Effect.gen(function*() {
              const a = yield* Workflow.step("a", Effect.sync(() => (counts.a++, n * 2)))
              const b = yield* Workflow.step("b", Effect.sync(() => (counts.b++, a + 1)))
              // A child started by the resumed old execution is linked to it.
              const child = yield* Workflow.step(
                "child",
                Effect.flatMap(engine.start(kid, b), (handle) => Effect.as(handle.result, handle.id))
              )
              return { b, child }
            })
        })
        const asks = Workflow.make({
          name: "legacy-asks",
          run: () => Workflow.approval({ taskId: "t", dataForApproval: 1 })
        })
        yield* engine.register(legacy)
        yield* engine.register(asks)

        // Resumed: the journaled step is not run again, the log goes on from where it was.
        const resumed = yield* engine.resume("old-running")
        const output = (yield* resumed.result) as { readonly b: number; readonly child: string }
        expect(output.b).toBe(3)
        expect(counts).toEqual({ a: 0, b: 1 })
        const log = yield* collect(resumed.events)
        expectContiguous(log)
        expect(
          log.map((e) => e.type === "step_start" || e.type === "step_end" ? `${e.type} ${e.runnableName}` : e.type)
        )
          .toEqual([
            "step_start a",
            "step_end a",
            "step_start b",
            "step_end b",
            "step_start child",
            "step_end child",
            "final_output"
          ])
        expect(yield* engine.status(output.child)).toMatchObject({
          status: "completed",
          output: 30,
          parent: "old-running"
        })
        expect(yield* engine.status("old-running")).not.toHaveProperty("parent")
        expect((yield* engine.executions({ parent: "old-running" })).executions.map((e) => e.id)).toEqual([
          output.child
        ])

        // Cancelled: the waiting one is, and then takes no answer; the completed one says it has finished.
        yield* engine.cancel("old-waiting")
        expect(yield* engine.status("old-waiting")).toMatchObject({ status: "cancelled" })
        const answer = yield* Effect.flip(engine.approve("old-waiting", "t", { status: "approved" }))
        expect(answer._tag).toBe("ExecutionFinished")
        const finished = yield* Effect.flip(engine.cancel("old-done"))
        expect(finished).toMatchObject({ _tag: "ExecutionFinished", status: "completed" })
      }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerSqlite({ filename })))

      const after = new Database(filename)
      expect(after.prepare("select max(migration_id) as version from workflow_migrations").get()).toEqual({
        version: SCHEMA_VERSION
      })
      expect(columns(after)).toContain("parent")
      expect(
        after.prepare("select name from sqlite_master where type = 'index' and name = 'workflow_executions_by_parent'")
          .get()
      ).toEqual({ name: "workflow_executions_by_parent" })
      expect(after.prepare("select id from workflow_executions where parent is null order by id").all()).toEqual([
        { id: "old-done" },
        { id: "old-running" },
        { id: "old-waiting" }
      ])
      after.close()
    }))
})
