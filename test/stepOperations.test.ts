/**
 * What a step costs in Effect operations, counted over every fiber of the engine's runtime (its runs
 * included) by a tracer that counts each operation it is asked to run (Effect asks the current tracer for
 * every one) and makes its spans with Effect's own: a count, not a time, so it holds on a busy machine. A
 * step on a storage that writes at once (SQLite) must cost no more operations than on the memory storage,
 * whatever its writer holds back and
 * writes before the next commit.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Tracer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-step-operations-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const steps = Workflow.make({
  name: "counted-steps",
  run: (n: number) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* Workflow.step("step", Effect.succeed(i))
      return total
    })
})

/** Effect operations per step on `storage`: the count for 120 steps less that for 20, over 100. */
const perStep = (storage: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  Effect.gen(function*() {
    const native = yield* Effect.tracer
    let operations = 0
    const counting = Tracer.make({
      span: (...args) => native.span(...args),
      context: (f) => {
        operations++
        return f()
      }
    })
    return yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(Layer.provideMerge(WorkflowEngine.layer, storage))
      const run = (n: number) =>
        Effect.gen(function*() {
          const before = operations
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handle = yield* engine.start(steps, n)
          expect(yield* handle.result).toBe((n * (n - 1)) / 2)
          return operations - before
        }).pipe(Effect.provide(context))
      yield* run(5)
      const few = yield* run(20)
      const many = yield* run(120)
      return (many - few) / 100
    })).pipe(Effect.withTracer(counting))
  })

describe("a step's Effect operations", () => {
  it.effect("are counted in the engine's runs", () =>
    Effect.gen(function*() {
      // The tracer sees the runs' fibers: a step costs some operations, not none.
      expect(yield* perStep(ExecutionStorage.layerMemory)).toBeGreaterThan(1)
    }))

  // Under FULL, commits wait for a group commit instead, which costs operations of its own.
  it.effect(
    "on SQLite NORMAL are no more than on memory: writing the held end of the step before costs none",
    () =>
      Effect.gen(function*() {
        const memory = yield* perStep(ExecutionStorage.layerMemory)
        const sqlite = yield* perStep(ExecutionStorage.layerSqlite({ filename: join(dir, "normal.db") }))
        expect(sqlite).toBeLessThanOrEqual(memory + 0.5)
      }),
    120_000
  )
})
