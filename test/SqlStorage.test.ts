import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Either, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"
import { onDurableStorages } from "./pg.js"
import { storageContract } from "./storageContract.js"

onDurableStorages(storageContract)

const dir = mkdtempSync(join(tmpdir(), "workflow-sqlclient-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The shared implementation over an SqlClient the caller provides: every operation, commit included,
// goes through the client (the SQLite and PostgreSQL layers commit on their drivers instead).
storageContract(
  "layerSql over @effect/sql-sqlite-node",
  ExecutionStorage.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "client.db") })))
)

// With synchronous FULL, SQLite commits of concurrent executions are grouped into one transaction.
storageContract(
  "SQLite, synchronous FULL (group commit)",
  ExecutionStorage.layerSqlite({ filename: join(dir, "full.db"), synchronous: "FULL" })
)

const log = (message: string): WorkflowEvent.WorkflowEvent => ({ type: "log", timestamp: 1, level: "info", message })

describe("SQLite group commit", () => {
  it.effect("rolls back only the commit that breaks a constraint or cannot be encoded; the rest of its batch lands", () =>
    Effect.gen(function*() {
      const filename = join(dir, "group.db")
      const s = yield* ExecutionStorage.ExecutionStorage
      for (const id of ["broken", "bad-payload", "fine"]) {
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        yield* s.commit(id, { events: [log(`${id} 1`)] })
      }
      // Another connection makes the database refuse "broken"'s next event, as a constraint would.
      const other = new Database(filename)
      other.exec(`create trigger refuse_broken before insert on workflow_events
        when new.position >> 24 = (select log_key from workflow_executions where id = 'broken')
          and new.position & 16777215 > 1
        begin select raise(abort, 'constraint failed: refused'); end`)
      other.close()
      const outcomes = yield* Effect.all(
        [
          s.commit("broken", { events: [log("broken 2")], status: "waiting" }),
          s.commit("bad-payload", { events: [{ ...log("bad"), details: { n: 1n } } as WorkflowEvent.WorkflowEvent] }),
          s.commit("fine", {
            events: [log("fine 2")],
            journal: { key: "0", name: "s", kind: "step", state: "started" }
          })
        ].map(Effect.either),
        { concurrency: "unbounded" }
      )
      expect(outcomes.map((o) => Either.isRight(o) ? o.right : o.left._tag)).toEqual([
        "StorageError",
        "InvalidPayload",
        2
      ])
      const [broken] = outcomes
      expect(Either.isLeft(broken!) && broken.left.message).toContain("constraint failed: refused")
      expect(yield* s.get("broken")).toMatchObject({ status: "running", lastSeq: 1 })
      expect(yield* s.events("bad-payload", { fromSeq: 1, limit: 10 })).toHaveLength(1)
      expect((yield* s.events("fine", { fromSeq: 1, limit: 10 })).map((e) => (e as { message: string }).message))
        .toEqual(["fine 1", "fine 2"])
      expect(yield* s.journal("fine")).toEqual([{ key: "0", name: "s", kind: "step", state: "started" }])
    }).pipe(
      Effect.provide(ExecutionStorage.layerSqlite({ filename: join(dir, "group.db"), synchronous: "FULL" }))
    ))
})
