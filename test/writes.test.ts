/**
 * How many times a run writes to SQLite: each write is a transaction, and under synchronous FULL an fsync,
 * so the count is the cost floor of an execution. Counted at the driver: every `begin`, and every write
 * statement made outside a transaction (its own transaction).
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-writes-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Counts the transactions the connections of this process write while `counting` is on. */
const transactions = (() => {
  const statement = Object.getPrototypeOf(new Database(":memory:").prepare("select 1")) as Record<
    string,
    (this: Database.Statement, ...params: Array<unknown>) => unknown
  >
  const state = { counting: false, count: 0 }
  for (const method of ["run", "all", "get"]) {
    const original = statement[method]!
    statement[method] = function(this: Database.Statement, ...params: Array<unknown>) {
      if (state.counting) {
        const text = this.source.trim().toLowerCase()
        if (text.startsWith("begin")) state.count++
        else if (/^(insert|update|delete)/.test(text) && !this.database.inTransaction) state.count++
      }
      return original.apply(this, params)
    }
  }
  return state
})()

const oneStep = Workflow.make({ name: "one-step", run: (n: number) => Workflow.step("double", Effect.succeed(n * 2)) })
const noStep = Workflow.make({ name: "no-step", run: (n: number) => Effect.succeed(n) })
const threeSteps = Workflow.make({
  name: "three-steps",
  run: (n: number) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < 3; i++) total += yield* Workflow.step("add", Effect.succeed(n + i))
      return total
    })
})

describe("writes per execution on SQLite", () => {
  for (const synchronous of ["NORMAL", "FULL"] as const) {
    const layer = WorkflowEngine.layer.pipe(
      Layer.provideMerge(ExecutionStorage.layerSqlite({ filename: join(dir, `${synchronous}.db`), synchronous }))
    )
    const writes = (workflow: typeof oneStep | typeof threeSteps | typeof noStep, input: number) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        // Warm: the first execution also prepares statements.
        yield* (yield* engine.start(workflow, input)).result
        transactions.count = 0
        transactions.counting = true
        const result = yield* (yield* engine.start(workflow, input)).result
        transactions.counting = false
        return { result, writes: transactions.count }
      }).pipe(Effect.ensuring(Effect.sync(() => (transactions.counting = false))), Effect.provide(layer))

    // Under FULL the creation is written with the run's first write (one sync to disk less); under NORMAL
    // on its own, before the run (a transaction costs less there than the start's wait for the run).
    const creation = synchronous === "FULL" ? 0 : 1

    it.live(`${synchronous}: a one-step execution is ${1 + creation} write(s) (its step with its end)`, () =>
      Effect.gen(function*() {
        expect(yield* writes(oneStep, 21)).toEqual({ result: 42, writes: 1 + creation })
      }))

    it.live(`${synchronous}: each further step is one write`, () =>
      Effect.gen(function*() {
        expect(yield* writes(threeSteps, 1)).toEqual({ result: 6, writes: 3 + creation })
      }))

    it.live(`${synchronous}: an execution of no step is ${1 + creation} write(s) (its output)`, () =>
      Effect.gen(function*() {
        expect(yield* writes(noStep, 5)).toEqual({ result: 5, writes: 1 + creation })
      }))

    it.live.skipIf(synchronous === "NORMAL")(
      `${synchronous}: concurrent executions share their steps' transactions (group commit, the default)`,
      () =>
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          yield* (yield* engine.start(threeSteps, 0)).result
          transactions.count = 0
          transactions.counting = true
          const results = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => Effect.flatMap(engine.start(threeSteps, i), (handle) => handle.result),
            { concurrency: "unbounded" }
          )
          transactions.counting = false
          expect(results).toEqual(Array.from({ length: 20 }, (_, i) => 3 * i + 3))
          // Alone, each would be 3 writes (60), their creations in the first: all of them share.
          expect(transactions.count).toBeGreaterThanOrEqual(3)
          expect(transactions.count).toBeLessThanOrEqual(12)
        }).pipe(Effect.ensuring(Effect.sync(() => (transactions.counting = false))), Effect.provide(layer))
    )
  }
})

describe("reads per execution", () => {
  it.live("result of a run in this process is the end it stored: no read, and a copy as a read would give", () =>
    Effect.gen(function*() {
      let reads = 0
      const counting = Layer.effect(
        ExecutionStorage.ExecutionStorage,
        Effect.map(ExecutionStorage.ExecutionStorage, (storage) => ({
          ...storage,
          get: (id: string) => Effect.zipRight(Effect.sync(() => reads++), storage.get(id))
        }))
      ).pipe(Layer.provide(ExecutionStorage.layerSqlite({ filename: join(dir, "reads.db") })))
      const nested = Workflow.make({
        name: "nested-output",
        run: (n: number) => Effect.map(Workflow.step("list", Effect.succeed([n, n + 1])), (list) => ({ list }))
      })
      yield* Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const handle = yield* engine.start(nested, 1)
        reads = 0
        const output = yield* handle.result
        expect(reads).toBe(0)
        expect(output).toEqual({ list: [1, 2] })
        // A copy: changing it changes nothing stored.
        output.list.push(99)
        // Asked again once the run is gone (its fiber ended with the first answer): the handle still knows
        // the end its run stored, and gives a copy of its own.
        const again = yield* handle.result
        expect(reads).toBe(0)
        expect(again).toEqual({ list: [1, 2] })
        expect(again).not.toBe(output)
        // By id, with no run here to ask: storage says (read again).
        expect(yield* engine.result(handle.id)).toEqual({ list: [1, 2] })
        expect(reads).toBeGreaterThan(0)
      }).pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(counting))))
    }))
})
