/**
 * A user's `WorkflowExecutionStorage` (here the facade's default,
 * `EphemeralWorkflowExecutionStorage`) is held to the same JSON contract as
 * the built-in storages: what JSON cannot hold as it is is refused in the
 * first run, and what is stored is a copy.
 */
import { EphemeralWorkflowExecutionStorage, Registry, Runnable, WorkflowService } from "@token-ring/workflow"
import type { WorkflowContext } from "@token-ring/workflow"
import { afterEach, describe, expect, it } from "vitest"

const services: Array<WorkflowService> = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()))
})

describe("a user's storage and faithful payloads", () => {
  it("refuses a step result JSON cannot hold as it is, and stores copies", async () => {
    const storage = new EphemeralWorkflowExecutionStorage()
    const service = new WorkflowService({ executionStorage: storage })
    services.push(service)
    await service.start(new Registry())
    const shared = { items: [1] }
    class Stamped extends Runnable<{ readonly dated: boolean }, unknown> {
      override name = "stamped"
      override async *invoke(
        input: { readonly dated: boolean },
        context?: WorkflowContext<{ readonly dated: boolean }>
      ) {
        const value = await context!.step("stamp", async () => input.dated ? { at: new Date(0) } : shared)
        yield { type: "log" as const, level: "info" as const, message: "stamped", details: shared }
        shared.items.push(2)
        return value
      }
    }
    service.registerWorkflow("stamped", new Stamped())
    const dated = await service.startWorkflow("stamped", { dated: true })
    await expect(dated.result()).rejects.toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
    await expect(dated.result()).rejects.toMatchObject({
      error: { message: expect.stringContaining("`success` schema") }
    })

    const plain = await service.startWorkflow("stamped", { dated: false })
    expect(await plain.result()).toEqual({ items: [1, 2] })
    const stored = await storage.loadExecution(plain.id)
    const log = stored!.events.find((event) => event.type === "log") as { details?: unknown }
    expect(log.details).toEqual({ items: [1] })
  })
})
