/**
 * Durable waits from the Promise API, imported from the built package as a
 * consumer would: a Runnable sleeps and receives signals through its
 * context, and `WorkflowService.signal` sends them.
 */
import { Registry, Runnable, WorkflowService } from "@token-ring/workflow"
import type { WorkflowContext } from "@token-ring/workflow"
import { afterEach, describe, expect, it } from "vitest"

const services: Array<WorkflowService> = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()))
})

const makeService = async () => {
  const service = new WorkflowService()
  services.push(service)
  await service.start(new Registry())
  return service
}

/** Resolves once `predicate` holds, polling every few milliseconds (bounded). */
const eventually = async (predicate: () => Promise<boolean>, what: string) => {
  for (let i = 0; i < 2_000; i++) {
    if (await predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("durable waits in a Runnable", () => {
  it("sleeps, then waits for a signal sent with WorkflowService.signal, and gives up on one that never comes", async () => {
    let steps = 0
    class Order extends Runnable<unknown, unknown> {
      override async *invoke(_input: unknown, context?: WorkflowContext) {
        await context!.step("reserve", () => ++steps)
        await context!.sleep(30)
        const payment = await context!.signal("paid")
        const refund = await context!.signal("refund", { timeoutMs: 30 })
        yield { type: "log" as const, level: "info" as const, message: "done" }
        return { payment, refund: refund ?? "none" }
      }
    }
    const service = await makeService()
    service.registerWorkflow("order", new Order())
    const handle = await service.startWorkflow("order", {})
    await eventually(async () => (await service.status(handle.id)).waitingFor === "signal:paid", "the wait")
    await service.signal(handle.id, "paid", { amount: 12 })
    expect(await handle.result()).toEqual({ payment: { amount: 12 }, refund: "none" })
    // The step ran once, although the generator replayed after each wait.
    expect(steps).toBe(1)
  })
})
