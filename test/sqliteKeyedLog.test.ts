/**
 * SQLite's log keyed by position (an execution's log key times 2^24, plus
 * the seq; see src/internal/storage/sqliteLog.ts): a database of the
 * schema before it migrates with nothing lost, or is refused whole when it
 * holds what the key cannot; executions' logs never mix, however their
 * commits interleave, however many are deleted, whatever their keys (up to
 * the last, where positions pass 2^53); and a log or a database that would
 * run past its range fails, storing nothing, rather than spill into another
 * execution's log.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { afterAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, WorkflowEvent } from "../src/index.js"
import { stepEnd, stepStart } from "../src/internal/stepEvents.js"
import { migrations } from "../src/internal/storage/migrations.js"
import { LAST_KEY, LAST_SEQ } from "../src/internal/storage/sqliteLog.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-keyed-log-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `${files++}.db`)

const storageOn = (filename: string) => ExecutionStorage.layerSqlite({ filename })

const log = (message: string): WorkflowEvent.WorkflowEvent => ({ type: "log", timestamp: 1, level: "info", message })

const OWNER = "the-run"
const claim = { owner: OWNER, leaseMs: 3_600_000 }

/** The messages of an execution's log, in order, with their seqs. */
const messages = (storage: ExecutionStorage.ExecutionStorageService, id: string) =>
  Effect.map(
    storage.events(id, { fromSeq: 1, limit: 10_000 }),
    (events) => events.map((event) => `${event.seq} ${(event as { message?: string }).message ?? event.type}`)
  )

/** A database at schema version 11 (the clustered log), written as that version wrote its rows. */
const version11 = (filename: string) =>
  Effect.gen(function*() {
    yield* Migrator.make({})({
      loader: Migrator.fromRecord(
        Object.fromEntries(Object.entries(migrations).filter(([name]) => Number(name.split("_")[0]) <= 11))
      ),
      table: "workflow_migrations"
    })
    const sql = yield* SqlClient.SqlClient
    const execution = (id: string, status: string, lastSeq: number, at: number) =>
      sql`insert into workflow_executions (id, workflow, input, status, created_at, updated_at, last_seq, output)
          values (${id}, 'w', '1', ${status}, ${at}, ${at}, ${lastSeq}, ${status === "completed" ? "7" : null})`
    const event = (id: string, seq: number, type: string, extra: Record<string, unknown>, journal?: string) =>
      sql`insert into workflow_events (execution_id, seq, type, payload, journal_key, journal_name, journal_result)
          values (${id}, ${seq}, ${type}, ${JSON.stringify({ type, timestamp: 100 + seq, ...extra })},
            ${journal ?? null}, ${journal === undefined ? null : "s"},
            ${journal === undefined ? null : JSON.stringify({ _tag: "Success", value: seq })})`
    // Created in the reverse order of their ids: keys follow the rows, not the ids.
    yield* execution("z-running", "running", 0, 1)
    yield* event("z-running", 1, "step_start", { runnableName: "s" })
    yield* event("z-running", 2, "step_end", { runnableName: "s", output: 2 }, "0")
    yield* event("z-running", 3, "log", { level: "info", message: "after" })
    yield* execution("a-done", "completed", 2, 2)
    yield* event("a-done", 1, "log", { level: "info", message: "only" })
    yield* event("a-done", 2, "final_output", { data: 7 })
    yield* sql`insert into workflow_journal (execution_id, key, name, kind, state)
      values ('z-running', '1', 'e', 'emit', 'completed')`
  }).pipe(Effect.provide(SqliteClient.layer({ filename })))

describe("SQLite's log keyed by position", () => {
  it.effect("a database of the clustered log migrates: logs, journals and last seqs read as before, and go on", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* version11(filename)
      yield* Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        expect(yield* messages(storage, "z-running")).toEqual(["1 step_start", "2 step_end", "3 after"])
        expect(yield* messages(storage, "a-done")).toEqual(["1 only", "2 final_output"])
        // Read from the log: the row's last_seq (0) lags it, as a step's end stored alone leaves it.
        expect(yield* storage.get("z-running")).toMatchObject({ status: "running", lastSeq: 3 })
        expect(yield* storage.get("a-done")).toMatchObject({ status: "completed", lastSeq: 2, output: 7 })
        expect(yield* storage.journal("z-running")).toEqual([
          { key: "1", name: "e", kind: "emit", state: "completed" },
          { key: "0", name: "s", kind: "step", state: "completed", result: { _tag: "Success", value: 2 } }
        ])
        // The log goes on after its last seq; a new execution's log is its own.
        expect(yield* storage.commit("z-running", { events: [log("next")] })).toBe(4)
        yield* storage.create({ id: "new", workflow: "w", input: 1, status: "running" })
        expect(yield* storage.commit("new", { events: [log("first")] })).toBe(1)
        expect(yield* messages(storage, "z-running")).toEqual(["1 step_start", "2 step_end", "3 after", "4 next"])
        expect(yield* messages(storage, "new")).toEqual(["1 first"])
      }).pipe(Effect.provide(storageOn(filename)))
      const db = new Database(filename, { readonly: true })
      // Keyed by one integer, the executions in the order of their rows; the old table is gone.
      expect(db.prepare("select id, log_key from workflow_executions order by log_key").all()).toEqual([
        { id: "z-running", log_key: 1 },
        { id: "a-done", log_key: 2 },
        { id: "new", log_key: 3 }
      ])
      expect(db.prepare("select name from pragma_table_info('workflow_events') where pk = 1").pluck().all())
        .toEqual(["position"])
      expect(db.prepare("select count(*) from workflow_events").pluck().get()).toBe(7)
      db.close()
    }))

  it.effect("logs never mix: commits of many executions interleaved, and some executions deleted, each reads its own", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const ids = Array.from({ length: 12 }, (_, i) => `e${i}`)
      for (const id of ids) yield* storage.create({ id, workflow: "w", input: null, status: "running", claim })
      for (let round = 1; round <= 5; round++) {
        for (const id of ids) {
          // Every path that writes a log: a plain commit, and a step's start and end (stored in the log alone).
          const seq = yield* storage.commit(id, { events: [log(`${id}.${round}`)], owner: OWNER })
          expect(seq).toBe(3 * round - 2)
          const result = { _tag: "Success", value: round } as const
          yield* storage.commit(id, {
            events: [stepStart(id, "s", 1, undefined, undefined), stepEnd(id, "s", 1, 2, result, undefined)],
            journal: { key: String(round), name: "s", kind: "step", state: "completed", result },
            owner: OWNER
          })
        }
      }
      // Half of them end and are deleted: their logs go, the others' stay whole.
      for (const id of ids.filter((_, i) => i % 2 === 0)) {
        yield* storage.commit(id, { events: [log("end")], status: "completed", output: id, owner: OWNER })
      }
      expect(yield* storage.purge!({ before: Date.now() + 60_000, statuses: ["completed"], limit: 100 })).toBe(6)
      for (const [i, id] of ids.entries()) {
        if (i % 2 === 0) {
          expect(yield* Effect.flip(storage.get(id))).toMatchObject({ _tag: "ExecutionNotFound" })
          expect(yield* storage.events(id, { fromSeq: 1, limit: 100 })).toEqual([])
          continue
        }
        const expected = Array.from(
          { length: 5 },
          (_, r) => [`${3 * r + 1} ${id}.${r + 1}`, `${3 * r + 2} step_start`, `${3 * r + 3} step_end`]
        ).flat()
        expect(yield* messages(storage, id)).toEqual(expected)
        expect((yield* storage.journal(id)).map((entry) => entry.key)).toEqual(["1", "2", "3", "4", "5"])
        expect(yield* storage.get(id)).toMatchObject({ lastSeq: 15 })
      }
      // A new execution after the deletions gets a log of its own, empty.
      yield* storage.create({ id: "later", workflow: "w", input: null, status: "running" })
      expect(yield* storage.events("later", { fromSeq: 1, limit: 100 })).toEqual([])
      expect(yield* storage.commit("later", { events: [log("mine")] })).toBe(1)
    }).pipe(Effect.provide(storageOn(freshFile()))))

  it.effect("a log at its last seq refuses more with a StorageError, stores nothing, and leaves the next log alone", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        yield* storage.create({ id: "full", workflow: "w", input: null, status: "running", claim })
        yield* storage.create({ id: "next", workflow: "w", input: null, status: "running", claim })
        yield* storage.commit("next", { events: [log("next's")], owner: OWNER })
      }).pipe(Effect.provide(storageOn(filename)))
      // As if "full" had stored 2^24 - 1 events: its last one at the end of its range.
      const db = new Database(filename)
      db.prepare(`insert into workflow_events (position, type, payload)
        select log_key * 16777216 + cast(? as integer), 'log', ? from workflow_executions where id = 'full'`)
        .run(LAST_SEQ, JSON.stringify(log("last")))
      db.close()
      yield* Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        expect(yield* storage.get("full")).toMatchObject({ lastSeq: LAST_SEQ })
        const result = { _tag: "Success", value: 1 } as const
        const commits = [
          { events: [log("one too many")], owner: OWNER },
          {
            events: [stepStart("full", "s", 1, undefined, undefined), stepEnd("full", "s", 1, 2, result, undefined)],
            journal: { key: "0", name: "s", kind: "step" as const, state: "completed" as const, result },
            owner: OWNER
          },
          { events: [log("ending")], status: "completed" as const, output: 1, owner: OWNER }
        ]
        for (const commit of commits) {
          const refused = yield* Effect.flip(storage.commit("full", commit))
          expect(refused._tag).toBe("StorageError")
          expect(refused.message).toContain(`the log of execution "full" is full`)
        }
        expect(yield* storage.get("full")).toMatchObject({ status: "running", lastSeq: LAST_SEQ })
        expect(yield* storage.journal("full")).toEqual([])
        expect(yield* messages(storage, "next")).toEqual(["1 next's"])
        // A seq below the first reads from the log's start, never from the end of the log before it.
        for (const fromSeq of [0, -1, -5]) {
          expect((yield* storage.events("next", { fromSeq, limit: 10 })).map((event) => event.seq)).toEqual([1])
        }
        expect(yield* storage.commit("next", { events: [log("still mine")], owner: OWNER })).toBe(2)
      }).pipe(Effect.provide(storageOn(filename)))
    }))

  it.effect("keys up to the last keep every seq exact (positions past 2^53); past the last key a creation fails", () => {
    const filename = freshFile()
    const keyOf = (id: string) => {
      const db = new Database(filename, { readonly: true })
      const key = db.prepare("select log_key from workflow_executions where id = ?").pluck().get(id)
      db.close()
      return Number(key)
    }
    return Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const result = { _tag: "Success", value: 1 } as const
      const keys: Array<number> = []
      // Each execution's key is one more than the highest: the one before it is given the key wanted minus one.
      for (const wanted of [2 ** 21 + 1, 2 ** 29 + 3, 2 ** 35 + 7, LAST_KEY]) {
        const before = `before-${wanted}`
        yield* storage.create({ id: before, workflow: "w", input: null, status: "running" })
        const db = new Database(filename)
        db.prepare("update workflow_executions set log_key = ? where id = ?").run(wanted - 1, before)
        db.close()
        const id = `at-${wanted}`
        yield* storage.create({ id, workflow: "w", input: null, status: "running", claim })
        for (let i = 1; i <= 3; i++) {
          yield* storage.commit(id, { events: [log(`${id}.${i}`)], owner: OWNER })
          yield* storage.commit(id, {
            events: [stepStart(id, "s", 1, undefined, undefined), stepEnd(id, "s", 1, 2, result, undefined)],
            journal: { key: String(i), name: "s", kind: "step", state: "completed", result },
            owner: OWNER
          })
        }
        keys.push(keyOf(id))
        const all = [1, 2, 3].flatMap((
          i
        ) => [`${3 * i - 2} ${id}.${i}`, `${3 * i - 1} step_start`, `${3 * i} step_end`])
        expect(yield* messages(storage, id)).toEqual(all)
        for (const from of [2, 3, 4, 5, 9]) {
          const page = yield* storage.events(id, { fromSeq: from, limit: 2 })
          expect(page.map((event) => event.seq)).toEqual([from, from + 1].filter((seq) => seq <= 9))
        }
        expect((yield* storage.journal(id)).map((entry) => entry.key)).toEqual(["1", "2", "3"])
        expect(yield* storage.get(id)).toMatchObject({ lastSeq: 9 })
        // The execution before it has a log of its own, empty.
        expect(yield* storage.events(before, { fromSeq: 1, limit: 10 })).toEqual([])
      }
      expect(keys).toEqual([2 ** 21 + 1, 2 ** 29 + 3, 2 ** 35 + 7, LAST_KEY])
      // No key is left: a creation is refused, and nothing else changes.
      const refused = yield* Effect.flip(
        storage.create({ id: "one-too-many", workflow: "w", input: null, status: "running" })
      )
      expect(refused._tag).toBe("StorageError")
      expect(refused.message).toContain("log_key")
      expect(yield* Effect.flip(storage.get("one-too-many"))).toMatchObject({ _tag: "ExecutionNotFound" })
      expect(yield* storage.get(`at-${LAST_KEY}`)).toMatchObject({ lastSeq: 9 })
    }).pipe(Effect.provide(storageOn(filename)))
  })

  it.effect("a database of the clustered log holding more than the key can is refused whole, and left as it was", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* version11(filename)
      const db = new Database(filename)
      db.prepare(`insert into workflow_events (execution_id, seq, type, payload) values ('z-running', ?, 'log', '{}')`)
        .run(LAST_SEQ + 1)
      db.close()
      const refused = yield* Effect.flip(Effect.provide(ExecutionStorage.ExecutionStorage, storageOn(filename)))
      expect(refused._tag).toBe("StorageError")
      expect(refused.message).toContain("cannot be migrated to the log keyed by position")
      const after = new Database(filename, { readonly: true })
      expect(after.prepare("select max(migration_id) from workflow_migrations").pluck().get()).toBe(11)
      expect(after.prepare("select count(*) from workflow_events where execution_id = 'z-running'").pluck().get())
        .toBe(4)
      after.close()
    }))
})
