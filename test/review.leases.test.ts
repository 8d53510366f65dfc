/**
 * Review (issue 9): a renewal's answer is applied to the run of that execution going on when the answer
 * arrives, not to the run it was asked for.
 *
 * Defect: `Leases.keepAlive` snapshots `runs.leased()`, awaits `storage.renew`, and then calls
 * `runs.abandon(id, run)` for every id that was not extended. `Runs.abandon` marks the *old* run abandoned
 * but then does `FiberMap.remove(fibers, id)`, which interrupts whichever fiber holds that id now. When the
 * old run suspended (releasing its lease) while the renewal was in flight and a new run of the same
 * execution was launched and claimed it before the answer came back, the new run is interrupted in state
 * `Running`, and `outcome.decide` stores `failed` ("Interrupted"): a healthy execution fails for good.
 * The window is one renewal round trip, so a storage with real I/O (PostgreSQL, any `SqlClient`) is
 * needed; here a memory storage whose `renew` takes its time (gated) makes it deterministic.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Logger, LogLevel } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

describe("review: lease renewal", () => {
  it.live("a renewal that did not extend an old run's lease does not stop a newer run of that execution", () =>
    Effect.gen(function*() {
      const base = yield* ExecutionStorage.makeMemory
      const asked = yield* Deferred.make<void>()
      const evaluate = yield* Deferred.make<void>()
      const evaluated = yield* Deferred.make<void>()
      const answer = yield* Deferred.make<void>()
      const released = yield* Deferred.make<void>()
      let armed = true
      // A renewal with I/O: the database evaluates it at some point, and its answer comes back later.
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...base,
        renew: (owner, ids, leaseUntil) =>
          armed && ids.length > 0
            ? Effect.gen(function*() {
              armed = false
              yield* Deferred.succeed(asked, undefined)
              yield* Deferred.await(evaluate)
              const renewed = yield* base.renew(owner, ids, leaseUntil)
              yield* Deferred.succeed(evaluated, undefined)
              yield* Deferred.await(answer)
              return renewed
            })
            : base.renew(owner, ids, leaseUntil),
        release: (id, owner) => Effect.zipRight(base.release(id, owner), Deferred.succeed(released, undefined))
      }
      const first = yield* Deferred.make<void>()
      const workflow = Workflow.make({
        name: "review-renewal",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.step("first", Deferred.await(first))
            yield* Workflow.approval({ taskId: "q", dataForApproval: null })
            yield* Workflow.step("second", Effect.sleep("5 seconds"))
            return "done"
          })
      })
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ lease: "600 millis", recover: false })
        const handle = yield* engine.start(workflow, undefined)
        // A renewal of the first run's lease is under way...
        yield* Deferred.await(asked)
        // ...while that run suspends on the approval and gives its lease up.
        yield* Deferred.succeed(first, undefined)
        yield* Deferred.await(released)
        expect((yield* engine.status(handle.id)).status).toBe("waiting")
        // The database evaluates the renewal now: the lease is nobody's, so it is not extended.
        yield* Deferred.succeed(evaluate, undefined)
        yield* Deferred.await(evaluated)
        // The answer starts a new run, which claims the execution and runs its second step.
        yield* engine.approve(handle.id, "q", { status: "approved" })
        for (let i = 0; i < 200; i++) {
          const events = yield* base.events(handle.id, { fromSeq: 1, limit: 100 })
          if (events.some((event) => event.type === "step_start" && event.runnableName === "second")) break
          yield* Effect.sleep("5 millis")
        }
        // The renewal's answer arrives: it speaks of the old run only.
        yield* Deferred.succeed(answer, undefined)
        yield* Effect.sleep("100 millis")
        const record = yield* engine.status(handle.id)
        // Fails now: "failed", with error { name: "Interrupted" }.
        expect({ status: record.status, error: record.error }).toEqual({ status: "running", error: undefined })
      }).pipe(Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)))
    }).pipe(Effect.scoped))
})

describe("lease renewal and a run's end", () => {
  it.live("a run whose end (which releases its lease) is stored while a renewal is out is not abandoned", () =>
    Effect.gen(function*() {
      const base = yield* ExecutionStorage.makeMemory
      const asked = yield* Deferred.make<void>()
      const answer = yield* Deferred.make<void>()
      const nextRound = yield* Deferred.make<void>()
      let answered = false
      let finishing = ""
      const closing = yield* Deferred.make<void>()
      const close = yield* Deferred.make<void>()
      let armed = false
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...base,
        renew: (owner, ids, leaseMs) =>
          armed && ids.includes(finishing)
            ? Effect.gen(function*() {
              armed = false
              yield* Deferred.succeed(asked, undefined)
              yield* Deferred.await(answer)
              // Evaluated once the run's end is stored: the lease went with it, so it is not extended.
              answered = true
              return yield* base.renew(owner, ids, leaseMs)
            })
            // The round after the answered one: the engine has applied that answer.
            : Effect.zipRight(
              answered ? Deferred.succeed(nextRound, undefined) : Effect.void,
              base.renew(owner, ids, leaseMs)
            ),
        // The run's writer closes slowly: its fiber outlives its end, as over a storage with real I/O.
        writer: (id, options) =>
          Effect.tap(
            base.writer(id, options),
            () =>
              Effect.addFinalizer(() => Effect.zipRight(Deferred.succeed(closing, undefined), Deferred.await(close)))
          )
      }
      const warnings: Array<string> = []
      const warned = yield* Deferred.make<void>()
      const logger = Logger.make(({ logLevel, message }) => {
        if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) {
          warnings.push(String(message))
          Deferred.unsafeDone(warned, Exit.void)
        }
      })
      const finish = yield* Deferred.make<void>()
      const never = yield* Deferred.make<void>()
      const workflow = Workflow.make({
        name: "review-renewal-end",
        run: (gate: "finish" | "never") =>
          Effect.as(Workflow.step("only", Deferred.await(gate === "finish" ? finish : never)), "done")
      })
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ lease: "600 millis", recover: false })
        // A second run keeps the renewals going: each round renews its lease.
        yield* engine.start(workflow, "never")
        const handle = yield* engine.start(workflow, "finish")
        finishing = handle.id
        armed = true
        // A renewal is under way while the run stores its end and closes.
        yield* Deferred.await(asked)
        yield* Deferred.succeed(finish, undefined)
        yield* Deferred.await(closing)
        expect((yield* base.get(handle.id)).status).toBe("completed")
        yield* Deferred.succeed(answer, undefined)
        // The engine applied the answer (the next round began), or it stopped the run, saying so.
        yield* Effect.race(Deferred.await(nextRound), Deferred.await(warned))
        yield* Deferred.succeed(close, undefined)
        expect(yield* handle.result).toBe("done")
        expect(warnings).toEqual([])
      }).pipe(
        Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    }).pipe(Effect.scoped))
})
