/**
 * `startWorkflow` typed by what it starts, and Runnables that compile as
 * users write them (an `invoke` without a return type annotation).
 */
import { Runnable, Workflow, WorkflowService } from "@token-ring/workflow"
import type { WorkflowEventInput, WorkflowExecutionHandle } from "@token-ring/workflow"
import { Effect, Schema } from "effect"
import { afterEach, describe, expect, expectTypeOf, it } from "vitest"

const services: Array<WorkflowService> = []
afterEach(() => Promise.all(services.splice(0).map((service) => service.stop())))

const makeService = () => {
  const service = new WorkflowService({ planning: false })
  services.push(service)
  return service
}

class Greet extends Runnable<{ readonly name: string }, string> {
  // No return type annotation: its events' `type` and `level` are plain strings to TypeScript.
  override async *invoke(input: { readonly name: string }) {
    yield { type: "log", level: "info", message: `greeting ${input.name}` }
    return `hello ${input.name}`
  }
}

const double = Workflow.make({
  name: "double",
  input: Schema.Number,
  output: Schema.Number,
  run: (n: number) => Effect.succeed(n * 2)
})

describe("startWorkflow", () => {
  it("given a Runnable, registers it under its name if needed and types the handle with its output", async () => {
    const service = makeService()
    const greet = new Greet()
    const handle = await service.startWorkflow(greet, { name: "Ada" })
    expectTypeOf(handle).toEqualTypeOf<WorkflowExecutionHandle<string>>()
    expect(handle.workflowId).toBe("Greet")
    expect(service.getWorkflow("Greet")).toBe(greet)
    expect(await handle.result()).toBe("hello Ada")
    const again = await service.startWorkflow(greet, { name: "Bob" })
    expect(await again.result()).toBe("hello Bob")
    expect(service.listWorkflows().map(({ name }) => name)).toEqual(["Greet"])
  })

  it("given a Runnable registered under another id, starts it there", async () => {
    const service = makeService()
    const greet = new Greet()
    service.registerWorkflow("greeter", greet)
    const handle = await service.startWorkflow(greet, { name: "Ada" })
    expect(handle.workflowId).toBe("greeter")
    expect(await handle.result()).toBe("hello Ada")
  })

  it("refuses a Runnable whose name another workflow holds", async () => {
    const service = makeService()
    service.registerWorkflow("Greet", new Greet())
    await expect(service.startWorkflow(new Greet(), { name: "Ada" })).rejects.toThrow(
      `A different workflow is already registered as "Greet"`
    )
  })

  it("given an Effect workflow, types the handle with its output", async () => {
    const service = makeService()
    const handle = await service.startWorkflow(double, 21)
    expectTypeOf(handle.result()).resolves.toEqualTypeOf<number>()
    expect(await handle.result()).toBe(42)
  })

  it("given an id, types the handle as asked (unknown by default), as before", async () => {
    const service = makeService()
    service.registerWorkflow("greet", new Greet())
    const handle = await service.startWorkflow("greet", { name: "Ada" })
    expectTypeOf(handle.result()).resolves.toEqualTypeOf<unknown>()
    const typed = await service.startWorkflow<string>("greet", { name: "Bob" })
    expectTypeOf(typed.result()).resolves.toEqualTypeOf<string>()
    expect([await handle.result(), await typed.result()]).toEqual(["hello Ada", "hello Bob"])
  })

  it("checks the events of an invoke annotated with WorkflowEventInput", () => {
    class Checked extends Runnable<void, string> {
      override async *invoke(): AsyncGenerator<WorkflowEventInput, string> {
        yield { type: "log", level: "info", message: "fine" }
        // @ts-expect-error: not an event type
        yield { type: "lgo", level: "info", message: "typo" }
        return "done"
      }
    }
    expect(new Checked().name).toBe("Checked")
  })
})
