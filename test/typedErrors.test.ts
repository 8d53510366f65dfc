/**
 * Typed workflow errors: a workflow made with an `error` schema fails its
 * `result` with the error it failed with, decoded, so `catchTag` works, also
 * when the result is read back by another engine after a restart. Defects and
 * failures the schema cannot encode stay `WorkflowFailed`.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {
  amount: Schema.Number,
  at: Schema.Date
}) {}
class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { sku: Schema.String }) {}

const OrderError = Schema.Union(PaymentDeclined, OutOfStock)

const order = Workflow.make({
  name: "order",
  input: Schema.Struct({ amount: Schema.Number }),
  error: OrderError,
  run: ({ amount }) =>
    Effect.gen(function*() {
      yield* Workflow.step("reserve", Effect.succeed("ok"))
      if (amount > 100) return yield* new PaymentDeclined({ amount, at: new Date(Date.UTC(2020, 0, 1)) })
      if (amount < 0) return yield* Effect.die(new Error("negative amount"))
      if (amount === 0) return yield* Effect.fail(new OutOfStock({ sku: "zero" }))
      return `charged ${amount}`
    })
})

const dir = mkdtempSync(join(tmpdir(), "workflow-typed-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("typed workflow errors", () => {
  it.effect("result fails with the decoded error, so catchTag works", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const declined = yield* engine.start(order, { amount: 500 })
      const recovered = yield* declined.result.pipe(
        Effect.catchTag("PaymentDeclined", (error) =>
          Effect.succeed(`declined ${error.amount} at ${error.at.toISOString()}`))
      )
      expect(recovered).toBe("declined 500 at 2020-01-01T00:00:00.000Z")
      const error = yield* Effect.flip((yield* engine.start(order, { amount: 0 })).result)
      expect(error).toBeInstanceOf(OutOfStock)
      // The stored event carries the encoded failure, for readers without the schema.
      const events = yield* collect(declined.events)
      expect(events.at(-1)).toMatchObject({
        type: "workflow_error",
        error: {
          name: "PaymentDeclined",
          failure: { _tag: "PaymentDeclined", amount: 500, at: "2020-01-01T00:00:00.000Z" }
        }
      })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.effect("a defect is WorkflowFailed; so is any failure of a workflow without an error schema", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const defect = yield* Effect.flip((yield* engine.start(order, { amount: -1 })).result)
      expect(defect).toMatchObject({ _tag: "WorkflowFailed", error: { message: "negative amount" } })
      const untyped = Workflow.make({ name: "untyped", run: () => Effect.fail(new OutOfStock({ sku: "x" })) })
      const failed = yield* Effect.flip((yield* engine.start(untyped, undefined)).result)
      expect(failed).toMatchObject({ _tag: "WorkflowFailed", error: { name: "OutOfStock" } })
      // By id, nothing says which schema to decode with: the stored error, as WorkflowFailed.
      const declined = yield* engine.start(order, { amount: 200 })
      yield* Effect.flip(declined.result)
      expect(yield* Effect.flip(engine.result(declined.id))).toMatchObject({
        _tag: "WorkflowFailed",
        error: { name: "PaymentDeclined", failure: { amount: 200 } }
      })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.effect("a failure the schema cannot encode is WorkflowFailed, naming the failure", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const lying = Workflow.make({
        name: "lying",
        error: OrderError,
        // Fails with something its schema does not describe (a cast hides it from the compiler).
        run: () => Effect.fail({ _tag: "Surprise" } as unknown as OutOfStock)
      })
      const error = yield* Effect.flip((yield* engine.start(lying, undefined)).result)
      expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { name: "Surprise" } })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("the typed error is read back from storage by another engine after a restart", () =>
    Effect.gen(function*() {
      const storage = ExecutionStorage.layerSqlite({ filename: join(dir, "typed.db") })
      const first = yield* Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const handle = yield* engine.start(order, { amount: 300 }, { executionId: "order-1" })
        yield* Effect.flip(handle.result)
        return handle.id
      }).pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provide(storage))))
      const error = yield* Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        // Starting again with the same id finds the stored execution; its handle knows the schema.
        const again = yield* engine.start(order, { amount: 300 }, { executionId: first })
        expect(again.created).toBe(false)
        return yield* Effect.flip(again.result)
      }).pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provide(storage))))
      expect(error).toBeInstanceOf(PaymentDeclined)
      expect(error).toMatchObject({ amount: 300 })
      expect((error as PaymentDeclined).at).toBeInstanceOf(Date)
    }))
})
