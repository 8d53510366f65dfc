/**
 * The engine over durable storage at its edges: lost leases, payloads that
 * cannot be stored at the end or the start of a step, approvals asked or
 * answered by more than one engine, and damaged rows during recovery.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Flow, Workflow } from "../src/index.js"
import { collect, startEngine, waitForEvent } from "./helpers.js"
import { onDurableStorages } from "./pg.js"

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`

/** The storage in context, losing its connection once the first execution is claimed. */
const withConnectionLostAfterClaim = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => {
    let claimed = false
    const lost = (operation: string) => new ExecutionStorage.StorageError({ operation, reason: "connection lost" })
    return Effect.provideService(effect, ExecutionStorage.ExecutionStorage, {
      ...storage,
      claim: (...args) =>
        claimed ? Effect.fail(lost("claim")) : Effect.tap(storage.claim(...args), () => (claimed = true)),
      renew: () => Effect.fail(lost("renew"))
    })
  })

onDurableStorages((name, layer) =>
  describe(`WorkflowEngine over ${name}, at the edges`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.live("stops a run whose lease it could not renew, so the new owner runs the step alone", () =>
      withStorage(Effect.gen(function*() {
        let active = 0
        let mostActive = 0
        const busy = Workflow.make({
          name: unique("lease"),
          run: () =>
            Workflow.step(
              "work",
              Effect.acquireUseRelease(
                Effect.sync(() => (mostActive = Math.max(mostActive, ++active))),
                () =>
                  Effect.sleep("800 millis"),
                () => Effect.sync(() => active--)
              )
            )
        })
        const a = yield* withConnectionLostAfterClaim(startEngine({ lease: "150 millis" }))
        const handle = yield* a.engine.start(busy, undefined)
        const b = yield* startEngine({ lease: "150 millis" })
        yield* b.engine.register(busy)
        yield* Effect.timeout(b.engine.result(handle.id), "60 seconds")
        const ends = (yield* collect(handle.events)).filter((e) => e.type === "step_end")
        expect({ mostActive, ends: ends.length }).toEqual({ mostActive: 1, ends: 1 })
      })), 15_000)

    it.live("fails an execution whose output or error cannot be stored, instead of leaving it running", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine({ lease: "300 millis" })
        let bodies = 0
        const bigint = Workflow.make({
          name: unique("bigint-output"),
          run: () =>
            Effect.sync(() => (bodies++, 10n))
        })
        const handle = yield* engine.start(bigint, undefined)
        const error = yield* Effect.timeout(Effect.flip(handle.result), "60 seconds")
        expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
        yield* Effect.sleep("400 millis") // a recovery round
        expect(bodies).toBe(1)

        const circular: Record<string, unknown> = { message: "request failed" }
        circular.self = circular
        const failing = Workflow.make({
          name: unique("circular-error"),
          run: () =>
            Effect.fail(circular)
        })
        const failed = yield* Effect.timeout(
          Effect.flip((yield* engine.start(failing, undefined)).result),
          "60 seconds"
        )
        expect(failed).toMatchObject({ _tag: "WorkflowFailed", error: { message: "request failed" } })
      })), 15_000)

    it.live("checks a step's input before running it, and records it as it was when the step started", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        let ran = 0
        const badInput = Workflow.make({
          name: unique("bad-input"),
          run: () =>
            Workflow.step(
              "s",
              Effect.sync(() =>
                ++ran
              ),
              { input: 10n }
            )
        })
        const error = yield* Effect.flip((yield* engine.start(badInput, undefined)).result)
        expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
        expect(ran).toBe(0)

        const mutating = Workflow.make({
          name: unique("mutating"),
          run: () => {
            const items = [1]
            return Workflow.step(
              "s",
              Effect.sync(() =>
                items.push(2)
              ),
              { input: items }
            )
          }
        })
        const handle = yield* engine.start(mutating, undefined)
        yield* handle.result
        expect((yield* collect(handle.events)).find((e) => e.type === "step_start")).toMatchObject({ input: [1] })
      })))

    it.live("keeps a step's start in the log when its result cannot be stored", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const badResult = Workflow.make({
          name: unique("bad-result"),
          run: () => Workflow.step("count", Effect.succeed(10n))
        })
        const handle = yield* engine.start(badResult, undefined)
        yield* Effect.flip(handle.result)
        expect((yield* collect(handle.events)).map((e) => e.type)).toEqual(["step_start", "workflow_error"])
      })))

    it.live("asks every approval of parallel branches exactly once, however their suspensions interleave", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const storage = yield* ExecutionStorage.ExecutionStorage
        const two = Workflow.make({
          name: unique("two-requests"),
          run: () =>
            Flow.all("ask", [
              Workflow.approval({ taskId: "x", dataForApproval: 1 }),
              Workflow.approval({ taskId: "y", dataForApproval: 2 })
            ])
        })
        for (let i = 0; i < 5; i++) {
          const handle = yield* engine.start(two, undefined)
          // Answer whatever is waiting until the execution completes: a sibling interrupted by the first
          // suspension asks again when the run resumes; no request may be lost or asked twice.
          const answered = new Set<string>()
          while ((yield* handle.status).status !== "completed") {
            const asked = (yield* storage.events(handle.id, { fromSeq: 1, limit: 100 }))
              .flatMap((e) =>
                e.type === "human_approval_required" ? [e.taskId] : []
              )
            for (const taskId of asked.filter((t) => !answered.has(t))) {
              if ((yield* handle.status).status !== "waiting") break
              answered.add(taskId)
              yield* engine.approve(handle.id, taskId, { status: `ok ${taskId}` })
            }
            yield* Effect.sleep("10 millis")
          }
          expect(yield* handle.result).toEqual([{ status: "ok x" }, { status: "ok y" }])
          const asked = (yield* storage.events(handle.id, { fromSeq: 1, limit: 100 }))
            .flatMap((e) => e.type === "human_approval_required" ? [e.taskId] : [])
          expect(asked.sort()).toEqual(["x", "y"])
        }
      })), 15_000)

    it.live("goes on when another engine answers while this one replays up to the approval", () =>
      withStorage(Effect.gen(function*() {
        const one = Workflow.make({
          name: unique("answered-elsewhere"),
          run: () =>
            Effect.zipRight(Effect.sleep("100 millis"), Workflow.approval({ taskId: "t", dataForApproval: 1 }))
        })
        const a = yield* startEngine({ lease: "300 millis" })
        const b = yield* startEngine({ lease: "300 millis" })
        yield* b.engine.register(one)
        const handle = yield* a.engine.start(one, undefined)
        yield* waitForEvent(a.engine, handle.id, (e) =>
          e.type === "human_approval_required")
        yield* Effect.sleep("20 millis")
        yield* a.engine.resume(handle.id)
        yield* Effect.sleep("20 millis")
        yield* b.engine.approve(handle.id, "t", { status: "approved" })
        const result = yield* Effect.timeoutOption(handle.result, "60 seconds")
        expect(Option.getOrNull(result)).toEqual({ status: "approved" })
        expect((yield* handle.status).status).toBe("completed")
      })), 15_000)
  })
)

describe("recovery over SQLite with a damaged row", () => {
  it.live("recovers the other executions when one row no longer decodes", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "workflow-damaged-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "damaged.db")
      const layer = ExecutionStorage.layerSqlite({ filename })
      yield* Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        yield* storage.create({ id: "good", workflow: "w", input: 1, status: "running" })
        yield* storage.create({ id: "bad", workflow: "w", input: 2, status: "running" })
      }).pipe(Effect.provide(layer))
      const db = new Database(filename)
      db.prepare("update workflow_executions set input = '{oops' where id = 'bad'").run()
      db.close()
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ lease: "300 millis" })
        yield* engine.register(Workflow.make({ name: "w", run: () => Effect.succeed("done") }))
        expect(Option.getOrNull(yield* Effect.timeoutOption(engine.result("good"), "60 seconds"))).toBe("done")
        expect((yield* engine.executions({ workflow: "w" })).executions.map((e) => e.id)).toEqual(["good"])
      }).pipe(Effect.scoped, Effect.provide(layer))
    }).pipe(Effect.scoped), 15_000)
})
