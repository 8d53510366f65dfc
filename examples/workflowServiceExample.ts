/**
 * The Promise API end to end: streaming, a failure, a human approval answered
 * from code, cancellation, and resumption after a restart.
 *
 *   npx tsx examples/workflowServiceExample.ts
 */
import { EphemeralWorkflowExecutionStorage, parallel, Registry, Runnable, WorkflowService } from "../src/index.js"
import type { StoredWorkflowEvent, WorkflowContext, WorkflowEventInput } from "../src/index.js"

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener("abort", () => {
      clearTimeout(timer)
      reject(new Error("aborted"))
    })
  })

/** Adds ten, doubles, subtracts five: each a durable step. Fails for 3, on purpose. */
class Arithmetic extends Runnable<number, number> {
  override description = "Adds ten, doubles, subtracts five"
  static slowDown = 0

  override async *invoke(input: number, context?: WorkflowContext<number>) {
    const step = context!.step
    const added = await step("add-ten", () => input + 10)
    yield { type: "log" as const, level: "info" as const, message: `added ten: ${added}` }
    const doubled = await step("double", async () => {
      await sleep(Arithmetic.slowDown, context!.abortSignal)
      if (added === 13) throw new Error("13 is unlucky")
      return added * 2
    })
    const [result] = await parallel("finish", 1, () => doubled - 5)
    yield { type: "output_chunk" as const, data: `result: ${result}` }
    return result!
  }
}

/** Asks a reviewer before it publishes. */
class Publish extends Runnable<string, string> {
  override description = "Publishes a title once approved"
  override async *invoke(title: string): AsyncGenerator<WorkflowEventInput, string, any> {
    const answer = yield {
      type: "human_approval_required",
      taskId: "publish",
      dataForApproval: { title },
      message: `Publish "${title}"?`,
      choices: ["approved", "rejected"]
    }
    return answer.status === "approved" ? `published "${title}"` : `kept "${title}": ${answer.feedback}`
  }
}

const describe = (event: StoredWorkflowEvent): string => {
  switch (event.type) {
    case "log":
      return `[${event.level}] ${event.message}`
    case "step_start":
      return `▶ ${event.runnableName}`
    case "step_end":
      return `${event.error === undefined ? "✔" : "✖"} ${event.runnableName}`
    case "output_chunk":
      return `… ${String(event.data)}`
    case "final_output":
      return `⇒ ${JSON.stringify(event.data)}`
    case "workflow_error":
      return `✖ ${event.error.name}: ${event.error.message}`
    case "human_approval_required":
      return `? ${event.message}`
    case "human_approval_completed":
      return `✔ ${event.taskId}: ${event.status}`
    default:
      return event.type
  }
}

const newService = async (storage: EphemeralWorkflowExecutionStorage) => {
  const service = new WorkflowService({ executionStorage: storage })
  await service.start(new Registry())
  service.registerWorkflow("arithmetic", new Arithmetic())
  service.registerWorkflow("publish", new Publish())
  return service
}

export const runWorkflowServiceDemo = async (): Promise<void> => {
  const storage = new EphemeralWorkflowExecutionStorage()
  const service = await newService(storage)

  console.log("== streaming")
  const ok = await service.startWorkflow<number>("arithmetic", 5)
  for await (const event of ok.stream()) console.log(`  #${event.seq} ${describe(event)}`)
  console.log(`  result: ${await ok.result()}`)

  console.log("== a failure")
  const failing = await service.startWorkflow("arithmetic", 3)
  const error = await new Promise<any>((resolve) => failing.stream().on("error", resolve))
  console.log(`  error event: ${error.message}`)
  await failing.result().catch((error) => console.log(`  result rejected: ${error.error.message}`))

  console.log("== an approval answered from code")
  const publish = await service.startWorkflow<string>("publish", "Durable workflows")
  for await (const event of publish.stream()) {
    console.log(`  ${describe(event)}`)
    if (event.type === "human_approval_required") {
      await service.approve(publish.id, event.taskId, { status: "approved" })
    }
  }
  console.log(`  result: ${await publish.result()}`)

  console.log("== cancellation")
  Arithmetic.slowDown = 60_000
  const slow = await service.startWorkflow("arithmetic", 1)
  await new Promise<void>((resolve) => slow.stream().on("event", (event) => event.type === "log" && resolve()))
  await slow.cancel()
  await slow.result().catch((error) => console.log(`  result rejected: ${error._tag}`))
  console.log(`  status: ${(await service.status(slow.id)).status}`)

  console.log("== resumption after a restart")
  const interrupted = await service.startWorkflow<number>("arithmetic", 2)
  await new Promise<void>((resolve) => interrupted.stream().on("event", (event) => event.type === "log" && resolve()))
  await service.stop() // the process "dies" in the middle of the "double" step
  Arithmetic.slowDown = 0
  const restarted = await newService(storage)
  console.log(`  status after restart: ${(await restarted.status(interrupted.id)).status}`)
  const resumed = await restarted.resume<number>(interrupted.id)
  console.log(`  resumed result: ${await resumed.result()}`)
  const steps: Array<string> = []
  for await (const event of resumed.stream()) if (event.type === "step_start") steps.push(event.runnableName!)
  console.log(`  steps started, across both runs: ${steps.join(", ")}`)
  await restarted.stop()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorkflowServiceDemo().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
