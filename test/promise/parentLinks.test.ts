/**
 * Parent links through the Promise facade over a user's storage: a workflow
 * started from a Runnable's or an Effect workflow's body keeps its parent in
 * the user's `WorkflowExecutionStorage`, and cancelling the parent cancels
 * it. Imported from the built package, as a consumer would.
 */
import {
  EphemeralWorkflowExecutionStorage,
  Registry,
  Runnable,
  Workflow,
  WorkflowEngine,
  WorkflowService
} from "@token-ring/workflow"
import type { WorkflowContext, WorkflowEventInput } from "@token-ring/workflow"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"

const services: Array<WorkflowService> = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()))
})

/** A service over a user storage of its own, with the workflows of this file registered. */
const makeService = async () => {
  const storage = new EphemeralWorkflowExecutionStorage()
  const service = new WorkflowService({ executionStorage: storage, planning: false })
  services.push(service)
  await service.start(new Registry())
  service.registerWorkflow("asks", new Asks())
  service.registerWorkflow("runnable-parent", new RunnableParent(service))
  service.registerWorkflow("effect-parent", effectParent)
  return { service, storage }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Resolves once `predicate` holds, polling every few milliseconds (bounded). */
const eventually = async (predicate: () => Promise<boolean>, what: string) => {
  for (let i = 0; i < 2000; i++) {
    if (await predicate()) return
    await sleep(5)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Waits for an approval: a child that stays unfinished until it is answered or cancelled. */
class Asks extends Runnable<unknown, string> {
  override async *invoke(): AsyncGenerator<WorkflowEventInput, string, any> {
    const answer = yield { type: "human_approval_required" as const, taskId: "go", dataForApproval: null }
    return answer.status
  }
}

/** Starts one child in a `context.step` (as the planner does) and one straight from its body, then waits. */
class RunnableParent extends Runnable<unknown, string> {
  constructor(private readonly service: WorkflowService) {
    super()
  }
  override async *invoke(_input: unknown, context?: WorkflowContext): AsyncGenerator<WorkflowEventInput, string> {
    const id = context!.executionId
    await context!.step("start a child", async () => {
      await this.service.startWorkflow("asks", null, { executionId: `${id}.in-step` })
    })
    await this.service.startWorkflow("asks", null, { executionId: `${id}.direct` })
    yield { type: "log" as const, level: "info" as const, message: "children started" }
    await new Promise<void>((resolve) => context!.abortSignal.addEventListener("abort", () => resolve()))
    return "stopped"
  }
}

const effectParent = Workflow.make({
  name: "effect-parent",
  run: () =>
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const { executionId } = yield* Workflow.ExecutionContext
      yield* Workflow.step(
        "start a child",
        Effect.asVoid(engine.start("asks", null, { executionId: `${executionId}.in-step` }))
      )
      yield* engine.start("asks", null, { executionId: `${executionId}.direct` })
      yield* Workflow.log("info", "children started")
      yield* Workflow.step("wait", Effect.never as Effect.Effect<void>)
      return "stopped"
    })
})

/** Starts `parentWorkflow`, whose body starts two children, and checks their links and the parent's cancel. */
const childrenOf = async (parentWorkflow: string) => {
  const { service, storage } = await makeService()
  const parent = await service.startWorkflow(parentWorkflow, null)
  const children = [`${parent.id}.in-step`, `${parent.id}.direct`]
  // Started from outside any body: its id looks like a child's, but it is not one.
  const lookalike = await service.startWorkflow("asks", null, { executionId: `${parent.id}.lookalike` })
  const waiting = async (id: string) => (await storage.loadExecution(id))?.status === "waiting"
  for (const id of [...children, lookalike.id]) await eventually(() => waiting(id), `${id} to wait`)

  for (const id of children) {
    expect(await storage.loadExecution(id)).toMatchObject({ workflowId: "asks", parentId: parent.id })
    expect(await service.status(id)).toMatchObject({ parent: parent.id })
  }
  expect(await storage.loadExecution(lookalike.id)).not.toHaveProperty("parentId")
  expect(await service.status(lookalike.id)).not.toHaveProperty("parent")
  expect(await service.status(parent.id)).not.toHaveProperty("parent")
  const listed = await service.executions({ parent: parent.id })
  expect(listed.executions.map((e) => e.id).sort()).toEqual([...children].sort())

  await parent.cancel()
  expect((await service.status(parent.id)).status).toBe("cancelled")
  for (const id of children) {
    expect((await storage.loadExecution(id))?.status).toBe("cancelled")
  }
  await expect(service.approve(children[0]!, "go", { status: "approved" })).rejects.toMatchObject({
    _tag: "ExecutionFinished"
  })
  expect((await storage.loadExecution(lookalike.id))?.status).toBe("waiting")
  await service.approve(lookalike.id, "go", { status: "approved" })
  expect(await lookalike.result()).toBe("approved")
}

describe("parent links over a user storage", () => {
  it("an Effect workflow's body: its children keep their parent, and cancelling it cancels them", () =>
    childrenOf("effect-parent"))

  // KNOWN BUG (reported, not fixed here): `WorkflowService.startWorkflow` runs `engine.start` on the service's
  // runtime, outside the location of the Runnable body that calls it (the bridge's AsyncLocalStorage), so the
  // engine sees no cursor and records no parent; cancelling the parent then leaves the children waiting.
  it("a Runnable's body: its children keep their parent, and cancelling it cancels them", () =>
    childrenOf("runnable-parent"))
})
