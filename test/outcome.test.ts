/**
 * What a run stores when its body ends: the pure decision over every run
 * state and every kind of exit that matters.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Exit, FiberId, Schema } from "effect"
import { ExecutionStorage } from "../src/index.js"
import * as Outcome from "../src/internal/engine/outcome.js"
import { RunState } from "../src/internal/engine/run.js"
import type * as Run from "../src/internal/engine/run.js"
import { CommitFailed } from "../src/internal/workflowErrors.js"

const ran = { executionId: "e-1", workflow: "w", output: Schema.Number }

const states: ReadonlyArray<Run.RunState> = [
  RunState.Launching(),
  RunState.Running(),
  RunState.Suspending(),
  RunState.Cancelling(),
  RunState.Abandoned(),
  RunState.ShuttingDown(),
  RunState.Stopped()
]

const interrupted = Exit.failCause(Cause.interrupt(FiberId.none))
const refused = (error: ExecutionStorage.CommitError) => Exit.die(new CommitFailed({ error }))

describe("outcome", () => {
  it("a body that succeeded completes with its encoded output, whatever the state", () => {
    for (const state of states) {
      expect(Outcome.decide(state, Exit.succeed(3), ran)).toEqual(Outcome.Outcome.Complete({ output: 3 }))
    }
  })

  it("an output the schema refuses fails the execution with InvalidOutput, naming the workflow", () => {
    for (const state of states) {
      const outcome = Outcome.decide(state, Exit.succeed("three"), ran)
      expect(outcome._tag).toBe("Fail")
      if (outcome._tag === "Fail") {
        expect(outcome.error.name).toBe("InvalidOutput")
        expect(outcome.error.message).toContain(`workflow "w"`)
      }
    }
  })

  it("an interrupted body: cancelled when cancelling, nothing when waiting, shutting down or abandoned", () => {
    const expected: Record<Run.RunState["_tag"], Outcome.Outcome["_tag"]> = {
      Cancelling: "Cancel",
      Suspending: "Leave",
      ShuttingDown: "Leave",
      Abandoned: "Leave",
      // Set only after the outcome is decided (see runs.ts); decided anyway, as storing nothing.
      Stopped: "Leave",
      // Nobody here interrupted it: it interrupted itself, which ends it without a result.
      Launching: "Fail",
      Running: "Fail"
    }
    for (const state of states) {
      const outcome = Outcome.decide(state, interrupted, ran)
      expect([state._tag, outcome._tag]).toEqual([state._tag, expected[state._tag]])
      if (outcome._tag === "Fail") expect(outcome.error.name).toBe("Interrupted")
    }
  })

  it("a refused commit stores nothing: finished elsewhere, owned by another engine, or storage failing", () => {
    for (const state of states) {
      expect(
        Outcome.decide(
          state,
          refused(new ExecutionStorage.ExecutionFinished({ executionId: "e-1", status: "cancelled" })),
          ran
        )
      ).toEqual(Outcome.Outcome.Leave())
      expect(
        Outcome.decide(state, refused(new ExecutionStorage.ExecutionNotOwned({ executionId: "e-1", owner: "me" })), ran)
      ).toEqual(Outcome.Outcome.Abandon())
      const stop = Outcome.decide(
        state,
        refused(new ExecutionStorage.StorageError({ operation: "commit", reason: "disk full" })),
        ran
      )
      expect(stop._tag).toBe("Stop")
      if (stop._tag === "Stop") expect(stop.error).toMatchObject({ _tag: "StorageError", reason: "disk full" })
    }
  })

  it("a refused commit inside a failure with other causes still stores nothing", () => {
    const exit = Exit.failCause(
      Cause.parallel(
        Cause.die(
          new CommitFailed({ error: new ExecutionStorage.ExecutionNotOwned({ executionId: "e-1", owner: "me" }) })
        ),
        Cause.interrupt(FiberId.none)
      )
    )
    expect(Outcome.decide(RunState.Running(), exit, ran)).toEqual(Outcome.Outcome.Abandon())
  })

  it("a typed failure or a defect fails the execution with what it failed with", () => {
    class Boom extends Schema.TaggedError<Boom>()("Boom", { detail: Schema.String }) {}
    for (const state of states) {
      const failed = Outcome.decide(state, Exit.fail(new Boom({ detail: "x" })), ran)
      expect(failed).toMatchObject({ _tag: "Fail", error: { name: "Boom", details: { detail: "x" } } })
      const died = Outcome.decide(state, Exit.die(new Error("kaput")), ran)
      expect(died).toMatchObject({ _tag: "Fail", error: { name: "Error", message: "kaput" } })
      // A failure beside an interruption is still a failure.
      const mixed = Outcome.decide(
        state,
        Exit.failCause(Cause.parallel(Cause.fail("no"), Cause.interrupt(FiberId.none))),
        ran
      )
      expect(mixed).toMatchObject({ _tag: "Fail", error: { message: "no" } })
    }
  })
})

describe("outcome of a workflow with an error schema", () => {
  class Declined extends Schema.TaggedError<Declined>()("Declined", { amount: Schema.NumberFromString }) {}
  const typed = { ...ran, error: Declined }

  it("stores its typed failure encoded with the schema, beside the readable error", () => {
    expect(Outcome.decide(RunState.Running(), Exit.fail(new Declined({ amount: 5 })), typed)).toMatchObject({
      _tag: "Fail",
      error: { name: "Declined", failure: { _tag: "Declined", amount: "5" } }
    })
  })

  it("a failure the schema does not take, or a defect, is stored without one", () => {
    const other = Outcome.decide(RunState.Running(), Exit.fail(new Error("other")), typed)
    expect(other).toMatchObject({ _tag: "Fail", error: { message: "other" } })
    expect(other._tag === "Fail" && "failure" in other.error).toBe(false)
    const died = Outcome.decide(RunState.Running(), Exit.die(new Declined({ amount: 1 })), typed)
    expect(died._tag === "Fail" && "failure" in died.error).toBe(false)
  })
})

describe("run state", () => {
  it("the first way out sticks", async () => {
    const Run = await import("../src/internal/engine/run.js")
    const run = Run.make()
    expect(Run.isLive(run)).toBe(true)
    expect(Run.loaded(run)).toBe(true)
    expect(Run.suspending(run)).toBe(true)
    // A cancel or a shutdown of a run on its way out to wait does not change why it stops.
    expect(Run.cancelling(run)).toBe(false)
    expect(Run.shuttingDown(run)).toBe(false)
    expect(run.state._tag).toBe("Suspending")
    // Losing the lease does: what it would release is no longer its own.
    expect(Run.abandoned(run)).toBe(true)
    expect(run.state._tag).toBe("Abandoned")
    const cancelled = Run.make()
    expect(Run.cancelling(cancelled)).toBe(true)
    expect(Run.loaded(cancelled)).toBe(false)
    expect(Run.abandoned(cancelled)).toBe(false)
    expect(cancelled.state._tag).toBe("Cancelling")
  })
})
