/**
 * The Promise API, imported from the built package as a consumer would.
 */
import {
  ChatAdapter,
  EphemeralWorkflowExecutionStorage,
  ExecutionStorage,
  InMemoryPersistenceProvider,
  Registry,
  Runnable,
  Workflow,
  WorkflowExecutionStorage,
  WorkflowService
} from "@token-ring/workflow"
import type { StoredExecution, StoredWorkflowEvent, WorkflowContext, WorkflowEventInput } from "@token-ring/workflow"
import { Effect, Option, Schema } from "effect"
import * as v from "valibot"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import { freshDatabase, pgUrl } from "../pg.js"

const services: Array<WorkflowService> = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()))
})

const makeService = async (options: ConstructorParameters<typeof WorkflowService>[0] = {}) => {
  const service = new WorkflowService(options)
  services.push(service)
  await service.start(new Registry())
  return service
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener("abort", () => {
      clearTimeout(timer)
      reject(new Error("aborted"))
    })
  })

/** Resolves once `predicate` holds, polling every few milliseconds (bounded). */
const eventually = async (predicate: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 500; i++) {
    if (await predicate()) return
    await sleep(5)
  }
  throw new Error(`timed out waiting for ${what}`)
}

class Counter extends Runnable<{ readonly count: number }, number> {
  override description = "Counts, one log per number"
  override async *invoke(input: { readonly count: number }) {
    for (let i = 1; i <= input.count; i++) {
      yield { type: "log" as const, level: "info" as const, message: `count ${i}`, timestamp: Date.now() }
      await sleep(1)
    }
    return input.count
  }
}

describe("WorkflowService", () => {
  it("streams a Runnable's events to every stream() and resolves its result", async () => {
    const service = await makeService()
    service.registerWorkflow("counter", new Counter())
    const handle = await service.startWorkflow<number>("counter", { count: 20 })
    const consumers = Array.from({ length: 10 }, async () => {
      const seen: Array<StoredWorkflowEvent> = []
      for await (const event of handle.stream()) seen.push(event)
      return seen
    })
    const emitted: Array<StoredWorkflowEvent> = []
    const ended = new Promise((resolve) => {
      const stream = handle.stream()
      stream.on("event", (event) => emitted.push(event))
      stream.on("end", resolve)
    })
    expect(await handle.result()).toBe(20)
    expect(await ended).toBe(20)
    const logs = await Promise.all(consumers)
    const late: Array<StoredWorkflowEvent> = []
    for await (const event of handle.stream()) late.push(event)
    expect(late.map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
    expect(late.at(-1)).toMatchObject({ type: "final_output", data: 20 })
    for (const log of [...logs, emitted]) expect(log).toEqual(late)
    expect(service.listWorkflows().map((workflow) => workflow.name)).toEqual([
      "task-planner",
      "plan-executor",
      "prompt-analyzer",
      "counter"
    ])
    expect(service.listWorkflows().at(-1)).toEqual({ name: "counter", description: "Counts, one log per number" })
    const plain = new WorkflowService({ planning: false })
    services.push(plain)
    plain.registerWorkflow("counter", new Counter())
    expect(plain.listWorkflows().map((workflow) => workflow.name)).toEqual(["counter"])
  })

  it("reports a failure to error listeners and rejects result(), with no unhandled rejection", async () => {
    const unhandled: Array<unknown> = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on("unhandledRejection", onUnhandled)
    try {
      const service = await makeService()
      class Broken extends Runnable {
        override async *invoke() {
          yield { type: "log" as const, level: "warn" as const, message: "about to fail" }
          throw new Error("boom")
        }
      }
      service.registerWorkflow("broken", new Broken())
      const ignored = await service.startWorkflow("broken", {})
      const watched = await service.startWorkflow("broken", {})
      const error = await new Promise<any>((resolve) => watched.stream().on("error", resolve))
      expect(error._tag).toBe("WorkflowFailed")
      expect(error.error).toMatchObject({ name: "Error", message: "boom" })
      await expect(watched.result()).rejects.toMatchObject({ _tag: "WorkflowFailed" })
      await eventually(async () => (await service.status(ignored.id)).status === "failed", "the ignored run to fail")
      await sleep(20)
      expect(unhandled).toEqual([])
    } finally {
      process.off("unhandledRejection", onUnhandled)
    }
  })

  it("cancel() stops the generator: its finally runs, result() rejects, the stream ends", async () => {
    const service = await makeService()
    let finalized = false
    let started = false
    class Slow extends Runnable {
      override async *invoke(_input: unknown, context?: WorkflowContext) {
        try {
          yield { type: "log" as const, level: "info" as const, message: "waiting" }
          started = true
          await sleep(60_000, context?.abortSignal)
          return "never"
        } finally {
          finalized = true
        }
      }
    }
    service.registerWorkflow("slow", new Slow())
    const handle = await service.startWorkflow("slow", {})
    await eventually(() => started, "the generator to start waiting")
    const events: Array<StoredWorkflowEvent> = []
    const done = (async () => {
      for await (const event of handle.stream()) events.push(event)
    })()
    await handle.cancel()
    await eventually(() => finalized, "the generator's finally block")
    await expect(handle.result()).rejects.toMatchObject({ _tag: "WorkflowCancelled" })
    await done
    expect(events.map((e) => e.type)).toEqual(["log", "workflow_error"])
    expect((await service.status(handle.id)).status).toBe("cancelled")
    await expect(handle.resume()).rejects.toMatchObject({ _tag: "ExecutionFinished" })
  })

  it("passes an approval's answer back into the generator's yield", async () => {
    const service = await makeService()
    class Publish extends Runnable<{ readonly title: string }, string> {
      override async *invoke(input: { readonly title: string }): AsyncGenerator<WorkflowEventInput, string, any> {
        const answer = yield {
          type: "human_approval_required" as const,
          taskId: "publish",
          dataForApproval: input,
          message: `Publish ${input.title}?`
        }
        return answer.status === "approved" ? `published ${input.title}` : `kept: ${answer.feedback}`
      }
    }
    service.registerWorkflow("publish", new Publish())
    const yes = await service.startWorkflow<string>("publish", { title: "a" })
    const no = await service.startWorkflow<string>("publish", { title: "b" })
    await eventually(async () => (await service.status(yes.id)).status === "waiting", "the approval request")
    await eventually(async () => (await service.status(no.id)).status === "waiting", "the approval request")
    await service.approve(yes.id, "publish", { status: "approved" })
    await service.approve(no.id, "publish", { status: "rejected", feedback: "not yet" })
    expect(await yes.result()).toBe("published a")
    expect(await no.result()).toBe("kept: not yet")
    const types: Array<string> = []
    for await (const event of yes.stream()) types.push(event.type)
    expect(types).toEqual(["human_approval_required", "human_approval_completed", "final_output"])
  })

  it("resumes after a restart without re-running completed steps", async () => {
    const storage = new EphemeralWorkflowExecutionStorage()
    const runs: Record<string, number> = {}
    let block = true
    class Pipeline extends Runnable<{ readonly n: number }, number> {
      override async *invoke(input: { readonly n: number }, context?: WorkflowContext) {
        const step = context!.step
        const a = await step("a", () => (runs.a = (runs.a ?? 0) + 1, input.n + 1))
        yield { type: "log" as const, level: "info" as const, message: `a=${a}` }
        const b = await step("b", async () => {
          runs.b = (runs.b ?? 0) + 1
          if (block) await sleep(60_000, context!.abortSignal)
          return a * 10
        })
        return await step("c", () => (runs.c = (runs.c ?? 0) + 1, b + 1))
      }
    }
    const first = await makeService({ executionStorage: storage })
    first.registerWorkflow("pipeline", new Pipeline())
    const handle = await first.startWorkflow<number>("pipeline", { n: 1 })
    await eventually(() => runs.b === 1, "step b to start")
    await first.stop()

    block = false
    const second = await makeService({ executionStorage: storage })
    second.registerWorkflow("pipeline", new Pipeline())
    const resumed = await second.resume<number>(handle.id)
    expect(await resumed.result()).toBe(21)
    expect(runs).toEqual({ a: 1, b: 2, c: 1 })
    const events: Array<StoredWorkflowEvent> = []
    for await (const event of resumed.stream()) events.push(event)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.filter((e) => e.type === "log")).toHaveLength(1)
    expect(events.filter((e) => e.type === "step_start").map((e) => e.runnableName)).toEqual(["a", "b", "c"])
  })

  it("stores everything through a user's WorkflowExecutionStorage subclass", async () => {
    class Recording extends WorkflowExecutionStorage {
      readonly calls: Array<string> = []
      private readonly rows = new Map<string, { -readonly [K in keyof StoredExecution]: StoredExecution[K] }>()
      async createExecution(context: { id: string; workflowId: string; input: unknown; status: string }) {
        this.calls.push(`create ${context.workflowId} ${context.status}`)
        this.rows.set(context.id, { ...context, events: [] })
        return { id: context.id }
      }
      async appendEvent(id: string, event: StoredWorkflowEvent) {
        this.calls.push(`event ${event.type}`)
        ;(this.rows.get(id)!.events as Array<StoredWorkflowEvent>).push(event)
      }
      async updateStatus(id: string, status: string) {
        this.calls.push(`status ${status}`)
        this.rows.get(id)!.status = status
      }
      async storeOutput(id: string, output: unknown) {
        this.calls.push("output")
        this.rows.get(id)!.output = output
      }
      async loadExecution(id: string) {
        const row = this.rows.get(id)
        return row === undefined ? null : { ...row, events: [...row.events] }
      }
    }
    const storage = new Recording()
    const service = await makeService({ executionStorage: storage })
    service.registerWorkflow("counter", new Counter())
    const handle = await service.startWorkflow<number>("counter", { count: 2 })
    expect(await handle.result()).toBe(2)
    // Created running (the engine that starts it runs it): no status change before its events.
    expect(storage.calls).toEqual([
      "create counter running",
      "event log",
      "event log",
      "event final_output",
      "output",
      "status completed"
    ])
    expect((await storage.loadExecution(handle.id))?.events.map((e) => e.seq)).toEqual([1, 2, 3])
    expect((await service.executions({ workflow: "counter" })).executions.map((e) => e.id)).toEqual([handle.id])
  })

  describe("validation", () => {
    const schemas = {
      zod: { input: z.object({ n: z.number() }), output: z.string() },
      valibot: { input: v.object({ n: v.number() }), output: v.string() },
      "Effect Schema": { input: Schema.Struct({ n: Schema.Number }), output: Schema.String }
    }
    for (const [library, { input, output }] of Object.entries(schemas)) {
      it(`validates input and output of run() and of Runnables with ${library}`, async () => {
        const service = await makeService()
        const execute = async (value: { n: number }) => value.n === 0 ? (0 as unknown as string) : `n=${value.n}`
        expect(await service.run({ execute, inputSchema: input, outputSchema: output }, { n: 1 })).toBe("n=1")
        await expect(service.run({ execute, inputSchema: input, outputSchema: output }, { n: "1" } as any)).rejects
          .toMatchObject({ _tag: "InvalidInput", issues: [{ path: ["n"] }] })
        // Falsy values are validated too: a 0 output is not a string, a null input is not an object.
        await expect(service.run({ execute, inputSchema: input, outputSchema: output }, { n: 0 })).rejects
          .toMatchObject({ _tag: "InvalidOutput" })
        await expect(service.run({ execute, inputSchema: input }, null as any)).rejects
          .toMatchObject({ _tag: "InvalidInput" })

        class Typed extends Runnable {
          constructor() {
            super({ inputSchema: input, outputSchema: output })
          }
          override async *invoke(value: { n: number }) {
            return value.n > 1 ? `n=${value.n}` : (value.n as unknown as string)
          }
        }
        service.registerWorkflow("typed", new Typed())
        await expect(service.startWorkflow("typed", { n: "x" })).rejects.toMatchObject({ _tag: "InvalidInput" })
        expect((await service.executions()).executions).toEqual([])
        expect(await (await service.startWorkflow("typed", { n: 2 })).result()).toBe("n=2")
        const failed = await (await service.startWorkflow("typed", { n: 1 })).result().catch((e) => e)
        expect(failed).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidOutput" } })
      })
    }
  })

  it("validates a Runnable's input once before the execution is created and once per run", async () => {
    // A real zod schema (transforming: the generator gets the length), with its validations counted.
    const zodSchema = z.object({ word: z.string().transform((word) => word.length) })
    let validations = 0
    const counted = {
      "~standard": {
        ...zodSchema["~standard"],
        validate: (value: unknown) => {
          validations++
          return zodSchema["~standard"].validate(value)
        }
      }
    }
    const received: Array<unknown> = []
    class Measure extends Runnable<{ readonly word: number }, number> {
      override inputSchema = counted
      override async *invoke(input: { readonly word: number }): AsyncGenerator<WorkflowEventInput, number, any> {
        received.push(input)
        yield { type: "human_approval_required" as const, taskId: "ok", dataForApproval: input.word }
        return input.word
      }
    }
    const service = await makeService()
    service.registerWorkflow("measure", new Measure())

    // Bad input: checked once, nothing stored, the error names the path.
    await expect(service.startWorkflow("measure", { word: 7 })).rejects.toMatchObject({
      _tag: "InvalidInput",
      issues: [{ path: ["word"] }]
    })
    expect(validations).toBe(1)
    expect((await service.executions({ workflow: "measure" })).executions).toEqual([])

    // Good input: once before the execution is created, then once by each of its two runs (before and after
    // the approval), each run's generator getting the parsed value.
    validations = 0
    const handle = await service.startWorkflow<number>("measure", { word: "abcd" })
    await eventually(async () => (await service.status(handle.id)).status === "waiting", "the approval request")
    await service.approve(handle.id, "ok", { status: "approved" })
    expect(await handle.result()).toBe(4)
    expect(received).toEqual([{ word: 4 }, { word: 4 }])
    expect((await service.status(handle.id)).input).toEqual({ word: "abcd" })
    expect(validations).toBe(3)
  })

  it("keeps one registry, the engine's: getWorkflow returns what was registered, before and after start", async () => {
    const service = new WorkflowService({ planning: false })
    services.push(service)
    const counter = new Counter()
    const double = Workflow.make({ name: "double", input: Schema.Number, run: (n: number) => Effect.succeed(n * 2) })
    service.registerWorkflow("counter", counter)
    service.registerWorkflow("twice", double)
    service.registerWorkflow("counter", counter)
    expect(service.getWorkflow("counter")).toBe(counter)
    expect(service.getWorkflow("twice")).toBe(double)
    expect(service.getWorkflow("nope")).toBeUndefined()
    await service.start(new Registry())
    const engine = await service.engine()
    expect(Effect.runSync(engine.list).map((workflow) => workflow.name)).toEqual(["counter", "twice"])
    expect(Option.getOrUndefined(Effect.runSync(engine.definition("counter")))).toMatchObject({ source: counter })
    service.registerWorkflow("twice", double)
    expect(() => service.registerWorkflow("twice", Workflow.make({ name: "twice", run: () => Effect.void }))).toThrow(
      /already registered as "twice"/
    )
    expect(await (await service.startWorkflow<number>("twice", 21)).result()).toBe(42)
  })

  it("has one debug flag: getDebug/setDebug and /workflow debug read and set the same one", async () => {
    const service = await makeService()
    const { adapter, lines } = ChatAdapter.capture()
    expect(service.getDebug()).toBe(false)
    await service.executeCommand("workflow", "debug on", adapter)
    expect(service.getDebug()).toBe(true)
    service.setDebug(false)
    await service.executeCommand("workflow", "debug", adapter)
    expect(lines.map((line) => line.text)).toEqual(["Debug is on", "Debug is off"])
  })

  describe.skipIf(pgUrl === undefined)("over a storage that connects asynchronously (PostgreSQL)", () => {
    it("takes registrations before start; listWorkflows answers once start() has built the engine", async () => {
      const database = await freshDatabase()
      const service = new WorkflowService({ planning: false, storage: ExecutionStorage.layerPg({ url: database.url }) })
      try {
        service.registerWorkflow("counter", new Counter())
        expect(() => service.listWorkflows()).toThrow(/await start\(\)/)
        await service.start(new Registry())
        expect(service.listWorkflows().map((workflow) => workflow.name)).toEqual(["counter"])
        expect(await (await service.startWorkflow<number>("counter", { count: 2 })).result()).toBe(2)
      } finally {
        await service.stop()
        await database.drop()
      }
    })
  })

  it("rejects bad calls with errors that name what was wrong", async () => {
    const service = await makeService()
    service.registerWorkflow("counter", new Counter())
    expect(() => service.registerWorkflow("counter", new Counter())).toThrow(/already registered as "counter"/)
    expect(() => service.registerWorkflow("bad", {} as any)).toThrow(/must be a Runnable/)
    await expect(service.startWorkflow("nope", {})).rejects.toThrow(/No workflow named "nope"/)
    await expect(service.resume("no-such-id")).rejects.toMatchObject({ _tag: "ExecutionNotFound" })
    await expect(service.run({} as any, {})).rejects.toThrow(/no execute\(\) function/)
    await expect(service.approve("no-such-id", "t", { status: "approved" })).rejects.toMatchObject({
      _tag: "ExecutionNotFound"
    })
  })

  it("serves Runnable and Registry from their own entry points too", async () => {
    const runnable = await import("@token-ring/workflow/runnable")
    const registry = await import("@token-ring/workflow/registry")
    expect(runnable.Runnable).toBe(Runnable)
    expect(registry.Registry).toBe(Registry)
    const reg = new registry.Registry()
    const service = await makeService()
    await reg.services.register(service)
    expect(reg.requireFirstServiceByType(WorkflowService)).toBe(service)
    expect(() => new registry.Registry().requireFirstServiceByType(WorkflowService)).toThrow(
      "No service of type WorkflowService is registered"
    )
  })

  it("runs Effect workflows registered beside Runnables", async () => {
    const { Workflow } = await import("@token-ring/workflow")
    const service = await makeService()
    service.registerWorkflow(
      "double",
      Workflow.make({
        name: "double",
        input: Schema.Number,
        run: (n: number) => Workflow.step("x2", Effect.succeed(n * 2))
      })
    )
    expect(await (await service.startWorkflow("double", 21)).result()).toBe(42)
  })

  it("lets a Runnable resume from the next step it saved with the persistence provider", async () => {
    const storage = new EphemeralWorkflowExecutionStorage()
    const persistence = new InMemoryPersistenceProvider()
    const runs = { first: 0, second: 0 }
    let hang = true
    class TwoSteps extends Runnable<number, number> {
      override async *invoke(input: number, context?: WorkflowContext<number>) {
        const { executionId, workflowId } = context!
        const saved = await context!.persistence!.loadWorkflowState(executionId)
        let value = (saved?.lastOutput as number | undefined) ?? input
        if (saved?.currentStepId !== "second") {
          runs.first++
          value = value + 1
          await context!.persistence!.saveWorkflowState(executionId, workflowId, "second", value, {})
        }
        yield { type: "log" as const, level: "info" as const, message: `second step from ${value}` }
        runs.second++
        if (hang) await sleep(60_000, context!.abortSignal)
        return value * 2
      }
    }
    const first = await makeService({ executionStorage: storage, persistenceProvider: persistence })
    first.registerWorkflow("two", new TwoSteps())
    const handle = await first.startWorkflow<number>("two", 4)
    await eventually(() => runs.second === 1, "the second step")
    await first.stop()
    hang = false
    const second = await makeService({ executionStorage: storage, persistenceProvider: persistence })
    second.registerWorkflow("two", new TwoSteps())
    expect(await (await second.resume<number>(handle.id)).result()).toBe(10)
    expect(runs).toEqual({ first: 1, second: 2 })
    expect(await persistence.loadWorkflowState(handle.id)).toBeNull()
  })

  it("hands the persistence provider to Runnables and clears its state on completion", async () => {
    const persistence = new InMemoryPersistenceProvider()
    const service = await makeService({ persistenceProvider: persistence })
    const seen: Array<unknown> = []
    class Saving extends Runnable {
      override async *invoke(_input: unknown, context?: WorkflowContext) {
        await context!.persistence!.saveWorkflowState(context!.executionId, context!.workflowId, "second", 1, {})
        seen.push(await context!.persistence!.loadWorkflowState(context!.executionId))
        return "done"
      }
    }
    service.registerWorkflow("saving", new Saving())
    const handle = await service.startWorkflow("saving", {})
    expect(await handle.result()).toBe("done")
    expect(seen).toMatchObject([{ definitionId: "saving", currentStepId: "second", lastOutput: 1 }])
    expect(await persistence.loadWorkflowState(handle.id)).toBeNull()
  })
})
