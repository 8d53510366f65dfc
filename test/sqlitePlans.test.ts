/**
 * The plans SQLite makes for the updates of one execution by its id that
 * leave its status alone (a step's commit, a claim, a parent's signal): none
 * builds a temporary b-tree beyond the one its RETURNING needs. An
 * `in (...)` list in their WHERE made SQLite build a second one on each run,
 * on every step's path. (An update that sets the status also checks the
 * partial indexes over it, whose `in` lists measured no dearer.)
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, vi } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-plans-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const steps = Workflow.make({
  name: "plans-steps",
  run: (n: number) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* Workflow.step("step", Effect.succeed(i))
      return total
    })
})

const failing = Workflow.make({
  name: "plans-failing",
  run: (_: number) => Workflow.step("boom", Effect.dieMessage("boom"))
})

const child = Workflow.make({
  name: "plans-child",
  run: (n: number) => Workflow.step("child step", Effect.succeed(n + 1))
})

const parent = Workflow.make({
  name: "plans-parent",
  run: (n: number) => Workflow.child(child, n)
})

const sleeper = Workflow.make({
  name: "plans-sleeper",
  run: (_: number) => Workflow.sleep("1 hour")
})

/** How many temporary b-trees a statement's program opens. */
const temporaryTrees = (db: Database.Database, text: string): number => {
  const statement = db.prepare(`explain ${text}`)
  const params = Array.from({ length: (text.match(/\?/g) ?? []).length }, () => null)
  return (statement.all(...params) as Array<{ opcode: string }>).filter((row) => row.opcode === "OpenEphemeral")
    .length
}

describe("SQLite plans", () => {
  it("updates of one execution by id that keep its status build no temporary b-tree beyond their RETURNING's", async () => {
    const filename = join(dir, "plans.sqlite")
    const texts = new Set<string>()
    const prepare = vi.spyOn(Database.prototype, "prepare")
    const runtime = ManagedRuntime.make(
      WorkflowEngine.layer.pipe(Layer.provideMerge(ExecutionStorage.layerSqlite({ filename })))
    )
    try {
      await runtime.runPromise(Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* Effect.flatMap(engine.start(steps, 3), (handle) => handle.result)
        yield* Effect.flatMap(engine.start(failing, 0), (handle) => Effect.exit(handle.result))
        yield* Effect.flatMap(engine.start(parent, 1), (handle) => handle.result)
        const sleeping = yield* engine.start(sleeper, 0)
        yield* sleeping.cancel
        yield* Effect.exit(sleeping.result)
      }))
      for (const [text] of prepare.mock.calls) texts.add(text)
    } finally {
      prepare.mockRestore()
      await runtime.dispose()
    }
    const byId = [...texts].filter((text) =>
      /^\s*update workflow_executions\b[\s\S]*\bwhere id = \?/.test(text) &&
      !/\bstatus = /.test(text.slice(0, text.search(/\bwhere id = \?/)))
    )
    // A step's commit, the claim, the parent's signal.
    expect(byId.length).toBeGreaterThanOrEqual(3)
    const db = new Database(filename, { readonly: true })
    try {
      const dear = byId
        .map((text) => ({ text, trees: temporaryTrees(db, text), needed: /\breturning\b/.test(text) ? 1 : 0 }))
        .filter(({ needed, trees }) => trees > needed)
      expect(dear).toEqual([])
    } finally {
      db.close()
    }
  })
})
