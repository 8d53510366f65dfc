import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { WorkflowEvent } from "../src/index.js"

describe("WorkflowEvent", () => {
  it.effect("decodes each of the thirteen event types", () =>
    Effect.gen(function*() {
      const samples: Array<unknown> = [
        { type: "step_start", timestamp: 1, input: { a: 1 } },
        { type: "step_end", timestamp: 1, output: 2, durationMs: 3 },
        { type: "log", timestamp: 1, level: "warn", message: "careful", details: { x: 1 } },
        { type: "output_chunk", timestamp: 1, data: "partial" },
        { type: "final_output", timestamp: 1, data: { done: true } },
        { type: "schema_definition", timestamp: 1, schema: { type: "object" } },
        { type: "workflow_error", timestamp: 1, error: { name: "E", message: "m" } },
        { type: "human_approval_required", timestamp: 1, taskId: "t", dataForApproval: {}, choices: ["a", "b"] },
        { type: "human_approval_completed", timestamp: 1, taskId: "t", status: "custom-status", feedback: "ok" },
        { type: "wait_started", timestamp: 1, wait: "sleep", wakeAt: 3_600_001 },
        { type: "wait_ended", timestamp: 1, wait: "signal", name: "paid", timedOut: true },
        { type: "signal_received", timestamp: 1, name: "paid", payload: { amount: 1 } },
        { type: "child_started", timestamp: 1, executionId: "c", workflow: "w" }
      ]
      for (const sample of samples) {
        const decoded = yield* WorkflowEvent.decode(sample)
        expect(decoded).toEqual(sample)
      }
      expect(samples.map((s) => (s as { type: string }).type)).toEqual(WorkflowEvent.eventTypes)
    }))

  it.effect("rejects an unknown type with a message naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkflowEvent.decode({ type: "step_middle", timestamp: 1 }))
      expect(error._tag).toBe("InvalidEvent")
      expect(error.eventType).toBe("step_middle")
      expect(error.message).toContain(`Unknown workflow event type "step_middle"`)
      const missing = yield* Effect.flip(WorkflowEvent.decode({ timestamp: 1 }))
      expect(missing.message).toContain("Unknown workflow event type")
      const notObject = yield* Effect.flip(WorkflowEvent.decode(42))
      expect(notObject._tag).toBe("InvalidEvent")
    }))

  it.effect("names the path of a missing or wrong field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkflowEvent.decode({ type: "log", timestamp: 1, level: "loud", message: 1 }))
      expect(error.message).toContain(`of type "log"`)
      expect(error.issues.map((issue) => issue.path.join("."))).toEqual(expect.arrayContaining(["level", "message"]))
      const approval = yield* Effect.flip(WorkflowEvent.decode({ type: "human_approval_required", timestamp: 1 }))
      expect(approval.message).toContain("taskId")
    }))

  it("builds events and describes errors", () => {
    const event = WorkflowEvent.make("log", { level: "info", message: "hi" })
    expect(event.type).toBe("log")
    expect(typeof event.timestamp).toBe("number")
    expect(WorkflowEvent.is("log")(event)).toBe(true)
    expect(WorkflowEvent.isWorkflowEvent({ type: "nope", timestamp: 1 })).toBe(false)
    const info = WorkflowEvent.errorInfo(new TypeError("bad"))
    expect(info).toMatchObject({ name: "TypeError", message: "bad" })
    expect(info.stack).toContain("TypeError")
    expect(WorkflowEvent.errorInfo({ _tag: "Oops", message: "m" })).toMatchObject({ name: "Oops", message: "m" })
    expect(WorkflowEvent.errorInfo("plain")).toEqual({ name: "Error", message: "plain" })
  })
})
