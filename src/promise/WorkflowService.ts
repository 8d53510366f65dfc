/**
 * `WorkflowService`: the Promise front door of the engine. It runs the Effect
 * `WorkflowEngine` in a `ManagedRuntime`; Runnables and Effect workflows are
 * registered side by side and run as the same durable executions.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option, Stream } from "effect"
import * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as Models from "../Models.js"
import type * as Plan from "../Plan.js"
import * as Planning from "../Planning.js"
import * as Workflow from "../Workflow.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import type { StoredEvent } from "../WorkflowEvent.js"
import { fromPromise } from "./internal/bridge.js"
import { fromRunnable } from "./internal/runnableWorkflow.js"
import * as UserStorage from "./internal/userStorage.js"
import type { PersistenceProvider } from "./PersistenceProvider.js"
import type { Registry } from "./Registry.js"
import { Service } from "./Registry.js"
import { Runnable } from "./Runnable.js"
import * as Validation from "./validation.js"
import type { WorkflowExecutionStorage } from "./WorkflowExecutionStorage.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkflowServiceOptions {
  /** Your storage; the engine stores every execution through it. Default: in memory. */
  readonly executionStorage?: WorkflowExecutionStorage
  /** An engine storage Layer instead of `executionStorage`. */
  readonly storage?: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>
  /** Handed to every Runnable as `context.persistence`; cleared for an execution when it completes. */
  readonly persistenceProvider?: PersistenceProvider
  readonly engine?: WorkflowEngine.EngineOptions
  /**
   * The models `/plan` and `/analyze` may use (default: only the built-in
   * planner, analyzer and task executor). See `Models.layer`.
   */
  readonly models?: Layer.Layer<Models.Models, unknown>
  /** Register the built-in `task-planner`, `plan-executor` and `prompt-analyzer` workflows (default true). */
  readonly planning?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkflowInfo {
  readonly name: string
  readonly description?: string
  readonly parseArgs?: (args: string) => unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StartWorkflowOptions {
  /** Makes the start idempotent: starting again with this id returns the existing execution. */
  readonly executionId?: string
}

/**
 * A module `run` accepts: `execute` and optional schemas (Standard Schema or Effect Schema).
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowModule<I = any, O = any> {
  readonly name?: string
  readonly inputSchema?: Validation.AnySchema
  readonly outputSchema?: Validation.AnySchema
  execute(input: I, registry: Registry): Promise<O> | O
}

type Events = "event" | "end" | "error"
type Listener = (value: any) => void

/**
 * What `handle.stream()` returns: an `AsyncIterable` of the execution's events
 * and an emitter of `event`, `end` (with the result) and `error`. Each call of
 * `stream()` replays from the first event; listeners attached in the same tick
 * all see every event.
 *
 * @since 0.1.0
 * @category models
 */
export class WorkflowEventStream implements AsyncIterable<StoredEvent> {
  private readonly listeners: Record<Events, Set<Listener>> = { event: new Set(), end: new Set(), error: new Set() }
  private pumping = false

  constructor(
    private readonly open: () => AsyncIterable<StoredEvent>,
    private readonly outcome: () => Promise<unknown>
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    return this.open()[Symbol.asyncIterator]()
  }

  on(name: Events, listener: Listener): this {
    this.listeners[name].add(listener)
    this.pump()
    return this
  }

  addListener(name: Events, listener: Listener): this {
    return this.on(name, listener)
  }

  once(name: Events, listener: Listener): this {
    const wrapper: Listener = (value) => {
      this.listeners[name].delete(wrapper)
      listener(value)
    }
    return this.on(name, wrapper)
  }

  off(name: Events, listener: Listener): this {
    this.listeners[name].delete(listener)
    return this
  }

  removeListener(name: Events, listener: Listener): this {
    return this.off(name, listener)
  }

  private emit(name: Events, value: unknown): void {
    for (const listener of [...this.listeners[name]]) listener(value)
  }

  /** Starts reading on the next microtask, so every listener attached now sees the first event. */
  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    queueMicrotask(async () => {
      try {
        for await (const event of this.open()) this.emit("event", event)
        this.emit("end", await this.outcome())
      } catch (error) {
        // Reported to "error" listeners only: an unobserved failure never becomes an unhandled rejection.
        this.emit("error", error)
      }
    })
  }
}

/**
 * A started (or resumed) execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowExecutionHandle<T = unknown> {
  readonly id: string
  readonly workflowId: string
  /** `false` when the start found an existing execution with the given id. */
  readonly created: boolean
  stream(): WorkflowEventStream
  /** The result, when the execution completes; rejects if it fails or is cancelled. */
  result(): Promise<T>
  /** The same as `result()`. */
  response(): Promise<T>
  cancel(): Promise<void>
  resume(): Promise<WorkflowExecutionHandle<T>>
}

type Services =
  | WorkflowEngine.WorkflowEngine
  | ExecutionStorage.ExecutionStorage
  | Models.Models
  | ChatAdapter.Debug

interface Definition {
  readonly workflow: Workflow.Any
  readonly source: Runnable | Workflow.Any
}

/**
 * @since 0.1.0
 * @category services
 */
export class WorkflowService extends Service {
  override name = "WorkflowService"
  override description = "Runs registered workflows as durable, observable executions"
  /**
   * The tasks of the plan made by `/plan` and waiting for `/apply`: read from
   * storage by `start` and after every command. Assign a new array (and
   * `planPrompt`) to have `/apply` run a plan made in code instead.
   */
  currentPlan: Array<Plan.Task> = []
  planPrompt = ""
  private storedPlan: Array<Plan.Task> = this.currentPlan
  private registry: Registry | null = null
  /** The chat's debug flag (`/workflow debug`, `getDebug`/`setDebug`): the engine's runtime provides this one. */
  private readonly debug: ChatAdapter.DebugService = Effect.runSync(ChatAdapter.makeDebug())
  private readonly definitions = new Map<string, Definition>()
  private readonly inEngine = new Set<string>()
  private readonly runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
  private readonly persistence: PersistenceProvider | undefined

  constructor(options: WorkflowServiceOptions = {}) {
    super()
    const storage = options.storage ??
      (options.executionStorage !== undefined
        ? UserStorage.layer(options.executionStorage)
        : ExecutionStorage.layerMemory)
    this.runtime = ManagedRuntime.make(
      WorkflowEngine.layerWith(options.engine ?? {}).pipe(
        Layer.provideMerge(storage),
        Layer.merge(options.models ?? Models.layerBuiltin),
        Layer.merge(Layer.succeed(ChatAdapter.Debug, this.debug))
      )
    )
    this.persistence = options.persistenceProvider
    if (options.planning !== false) {
      for (const workflow of [Planning.taskPlanner, Planning.planExecutor, Planning.promptAnalyzer]) {
        this.definitions.set(workflow.name, { workflow, source: workflow })
      }
    }
  }

  /** Keeps the registry and restores a plan left waiting for approval in storage. */
  override async start(registry: Registry): Promise<void> {
    this.registry = registry
    if (this.definitions.has(Planning.TASK_PLANNER)) await this.restorePlan()
  }

  /** Shuts the engine down: running executions stop where they are, to be resumed later. */
  override async stop(): Promise<void> {
    await this.runtime.dispose()
  }

  /** Registers a Runnable (or an Effect workflow) under `id`. */
  registerWorkflow(id: string, workflow: Runnable | Workflow.Any): void {
    const existing = this.definitions.get(id)
    if (existing !== undefined) {
      if (existing.source === workflow) return
      throw new Error(`A different workflow is already registered as "${id}"`)
    }
    if (workflow instanceof Runnable) {
      const persistence = this.persistence
      const runnable: Definition["workflow"] = fromRunnable({
        id,
        runnable: workflow,
        registry: () => this.registry,
        persistence
      })
      this.definitions.set(id, { workflow: runnable, source: workflow })
    } else if (Workflow.isWorkflow(workflow)) {
      this.definitions.set(id, {
        workflow: workflow.name === id ? workflow : { ...workflow, name: id },
        source: workflow
      })
    } else {
      throw new TypeError(`Workflow "${id}" must be a Runnable or a workflow made with Workflow.make`)
    }
  }

  listWorkflows(): Array<WorkflowInfo> {
    return [...this.definitions].map(([name, { source }]) => {
      const description = source instanceof Runnable ? source.description : source.description
      const parseArgs = source instanceof Runnable && source.parseArgs !== undefined
        ? source.parseArgs.bind(source)
        : undefined
      return {
        name,
        ...(description !== undefined ? { description } : {}),
        ...(parseArgs !== undefined ? { parseArgs } : {})
      }
    })
  }

  getWorkflow(name: string): Runnable | Workflow.Any | undefined {
    return this.definitions.get(name)?.source
  }

  /** The debug flag: `/workflow debug` shows and sets the same one. */
  getDebug(): boolean {
    return Effect.runSync(this.debug.debug)
  }

  setDebug(value: boolean): void {
    Effect.runSync(this.debug.setDebug(value))
  }

  /**
   * Creates the execution and starts it; returns at once with its handle. The
   * engine validates the input before it creates the execution.
   */
  async startWorkflow<T = unknown>(
    workflowId: string,
    input: unknown,
    options: StartWorkflowOptions = {}
  ): Promise<WorkflowExecutionHandle<T>> {
    const handle = await this.runEngine((engine) =>
      engine.start(workflowId, input, options.executionId !== undefined ? { executionId: options.executionId } : {})
    )
    return this.handleOf<T>(handle.id, workflowId, handle.created)
  }

  /** Runs a stored execution that has not finished, from its journal. */
  async resume<T = unknown>(executionId: string): Promise<WorkflowExecutionHandle<T>> {
    const handle = await this.runEngine((engine) => engine.resume(executionId))
    return this.handleOf<T>(handle.id, handle.workflow, false)
  }

  /** An alias of `resume`. */
  resumeWorkflow<T = unknown>(executionId: string): Promise<WorkflowExecutionHandle<T>> {
    return this.resume<T>(executionId)
  }

  /** The handle of an existing execution. */
  async getExecution<T = unknown>(executionId: string): Promise<WorkflowExecutionHandle<T>> {
    const record = await this.runEngine((engine) => engine.status(executionId))
    return this.handleOf<T>(record.id, record.workflow, false)
  }

  approve(executionId: string, taskId: string, answer: Workflow.ApprovalAnswer): Promise<void> {
    return this.runEngine((engine) => engine.approve(executionId, taskId, answer))
  }

  cancel(executionId: string): Promise<void> {
    return this.runEngine((engine) => engine.cancel(executionId))
  }

  status(executionId: string): Promise<ExecutionStorage.ExecutionRecord> {
    return this.runEngine((engine) => engine.status(executionId))
  }

  executions(filter?: ExecutionStorage.ListFilter): Promise<ExecutionStorage.ExecutionPage> {
    return this.runEngine((engine) => engine.executions(filter))
  }

  /**
   * Runs a module's `execute(input, registry)`, validating the input and the
   * output with the module's schemas (always, falsy values included).
   */
  async run<I, O>(workflowModule: WorkflowModule<I, O>, input: I, registry?: Registry): Promise<O> {
    if (typeof workflowModule?.execute !== "function") {
      throw new TypeError("Invalid workflow module: it has no execute() function")
    }
    const name = workflowModule.name ?? "workflow module"
    try {
      const valid = await this.runEffect(Validation.input(name, workflowModule.inputSchema, input))
      const registryToUse = registry ?? this.registry
      const result = await this.runEffect(
        fromPromise(() => workflowModule.execute(valid as I, registryToUse as Registry))
      )
      return (await this.runEffect(Validation.output(name, workflowModule.outputSchema, result))) as O
    } catch (error) {
      if (this.getDebug()) console.error(`[WorkflowService] ${name} failed:`, error)
      throw error
    }
  }

  /**
   * Runs a chat command (`/workflow`, `/plan`, `/apply`, `/analyze`) with
   * its output going to `chat`. What `chatCommands` call.
   */
  async executeCommand(
    name: Commands.Name,
    remainder: string,
    chat: ChatAdapter.ChatAdapterService
  ): Promise<Commands.Result> {
    // A plan assigned from code (a new array, not the one read from storage) is what /apply runs.
    const fromCode = this.currentPlan !== this.storedPlan && this.currentPlan.length > 0 ? this.currentPlan : undefined
    const command = name === "apply" && remainder.trim() === "" && fromCode !== undefined
      ? Commands.handled(Commands.applyTasks(this.planPrompt, fromCode))
      : Commands.execute(name, remainder)
    try {
      return await this.runEngine(() => Effect.provideService(command, ChatAdapter.ChatAdapter, chat))
    } finally {
      if (this.definitions.has(Planning.TASK_PLANNER)) await this.restorePlan()
    }
  }

  /** Sets `currentPlan`/`planPrompt` to the plan waiting in storage, or empties them. */
  private async restorePlan(): Promise<void> {
    const pending = await this.runEngine(() => Planning.pending)
    this.planPrompt = Option.isSome(pending) ? pending.value.prompt : ""
    this.currentPlan = Option.isSome(pending) ? [...pending.value.plan.tasks] : []
    this.storedPlan = this.currentPlan
  }

  /** The engine, for Effect code that shares this service's executions. */
  engine(): Promise<WorkflowEngine.WorkflowEngineService> {
    return this.runtime.runPromise(WorkflowEngine.WorkflowEngine)
  }

  private handleOf<T>(id: string, workflowId: string, created: boolean): WorkflowExecutionHandle<T> {
    const result = () => this.runEngine((engine) => engine.result(id)) as Promise<T>
    return {
      id,
      workflowId,
      created,
      stream: () => new WorkflowEventStream(() => this.events(id), result),
      result,
      response: result,
      cancel: () => this.cancel(id),
      resume: () => this.resume<T>(id)
    }
  }

  private async *events(id: string): AsyncGenerator<StoredEvent> {
    const runtime = await this.runtime.runtime()
    const events: Stream.Stream<StoredEvent, unknown, WorkflowEngine.WorkflowEngine> = Stream.unwrap(
      Effect.map(WorkflowEngine.WorkflowEngine, (engine) => engine.events(id))
    )
    yield* Stream.toAsyncIterableRuntime(events, runtime)
  }

  /** Registers pending definitions with the engine, then runs `f` on it. Rejects with the failure itself. */
  private async runEngine<A, E>(
    f: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<A, E, Services>
  ): Promise<A> {
    return this.runEffect(Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
      Effect.zipRight(
        Effect.forEach(
          [...this.definitions].filter(([id]) => !this.inEngine.has(id)),
          ([id, { workflow }]) => Effect.tap(engine.register(workflow), () => this.inEngine.add(id)),
          { discard: true }
        ),
        f(engine)
      )))
  }

  private async runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    const exit = await this.runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
}
