/**
 * Events only the engine writes (`final_output`, `workflow_error`, the
 * approval events) are refused from a body, with a typed error, so a log
 * never gets a second terminal event or an answer nobody gave; a Runnable's
 * yielded `final_output` keeps its meaning (its data is the result).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { Registry, Runnable, WorkflowService } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

const engineOnly = [
  { type: "final_output", data: "EARLY" },
  { type: "workflow_error", error: { name: "Fake", message: "not really" } },
  { type: "human_approval_required", taskId: "t", dataForApproval: 1 },
  { type: "human_approval_completed", taskId: "t", status: "approved" }
] as const

describe("events only the engine writes", () => {
  for (const event of engineOnly) {
    it.effect(`Workflow.emit refuses "${event.type}" with InvalidEvent, and the log keeps one ending`, () =>
      Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const early = Workflow.make({
          name: `early-${event.type}`,
          run: () =>
            Effect.gen(function*() {
              const refused = yield* Effect.flip(Workflow.emit(event))
              expect(refused).toMatchObject({ _tag: "InvalidEvent", eventType: event.type })
              expect(refused.message).toContain("written by the engine")
              return "late"
            })
        })
        const handle = yield* engine.start(early, undefined)
        expect(yield* handle.result).toBe("late")
        const types = (yield* collect(handle.events)).map((e) => e.type)
        expect(types).toEqual(["final_output"])
      }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
  }

  it("a Runnable yielding workflow_error or human_approval_completed fails with InvalidEvent; final_output is its result", async () => {
    const service = new WorkflowService()
    await service.start(new Registry())
    try {
      class Forger extends Runnable<{ readonly what: string }, string> {
        override name = "forger"
        override async *invoke(input: { readonly what: string }) {
          if (input.what === "output") yield { type: "final_output" as const, data: "from final_output" }
          else if (input.what === "error") yield { type: "workflow_error" as const, error: { name: "X", message: "y" } }
          else yield { type: "human_approval_completed" as const, taskId: "t", status: "approved" }
          return "returned"
        }
      }
      service.registerWorkflow("forger", new Forger())
      const output = await service.startWorkflow("forger", { what: "output" })
      expect(await output.result()).toBe("from final_output")
      for (const what of ["error", "approval"]) {
        const handle = await service.startWorkflow("forger", { what })
        await expect(handle.result()).rejects.toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidEvent" } })
        const status = await service.status(handle.id)
        expect(status.status).toBe("failed")
      }
    } finally {
      await service.stop()
    }
  })
})
