/**
 * `WorkflowService`: the Promise front door of the engine. It runs the Effect
 * `WorkflowEngine` in a `ManagedRuntime`; Runnables and Effect workflows are
 * registered side by side and run as the same durable executions.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as Models from "../Models.js"
import type * as Plan from "../Plan.js"
import * as Planning from "../Planning.js"
import * as Workflow from "../Workflow.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import type * as WorkflowEvent from "../WorkflowEvent.js"
import { atCallerLocation, fromPromise } from "./internal/bridge.js"
import * as KeepAlive from "./internal/keepAlive.js"
import * as Logging from "./internal/logger.js"
import { fromRunnable } from "./internal/runnableWorkflow.js"
import * as UserStorage from "./internal/userStorage.js"
import type { PersistenceProvider } from "./PersistenceProvider.js"
import type { Registry } from "./Registry.js"
import { Service } from "./Registry.js"
import { Runnable } from "./Runnable.js"
import type { RunnableWorkflow } from "./Runnable.js"
import * as Validation from "./validation.js"
import { WorkflowEventStream } from "./WorkflowEventStream.js"
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
  /**
   * Receives what the engine and the flow helpers log while they work for
   * this service (a `queue` task's failed attempts, a run that could not
   * store its outcome...). By default nothing is logged anywhere.
   *
   * @since 0.2.0
   */
  readonly logger?: WorkflowLogger
  /**
   * The least severe level `logger` receives (default `"info"`).
   *
   * @since 0.2.0
   */
  readonly logLevel?: WorkflowLogLevel
}

/**
 * @since 0.2.0
 * @category models
 */
export type WorkflowLogLevel = WorkflowEvent.LogLevel

/**
 * A `WorkflowService`'s `logger`: `message` is what was logged, `details`
 * the values logged with it (one value as it is, several as an array, a
 * failure's cause as its error), if any.
 *
 * @since 0.2.0
 * @category models
 */
export type WorkflowLogger = (level: WorkflowLogLevel, message: string, details?: unknown) => void

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

export {
  /**
   * What `handle.stream()` returns: an `AsyncIterable` of the execution's
   * events and an emitter of `event`, `end` (with the result) and `error`.
   *
   * @since 0.1.0
   * @category models
   */
  WorkflowEventStream
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

/** A workflow registered here: it needs at most the services of the engine's runtime. */
type Registrable = Workflow.Workflow<unknown, unknown, unknown, Services>

/** An Effect workflow registered under an id other than its name: a copy with that name, linked to the original. */
interface Renamed extends Workflow.Any {
  readonly source: Workflow.Any
}

/** The engine's definition for what a user registers under `id`. */
const definitionFor = (
  id: string,
  workflow: Runnable | Workflow.Any,
  runnable: Omit<Parameters<typeof fromRunnable>[0], "id" | "runnable">
): Workflow.Any => {
  if (workflow instanceof Runnable) return fromRunnable({ ...runnable, id, runnable: workflow })
  if (workflow.name === id) return workflow
  const renamed: Renamed = { ...workflow, name: id, source: workflow }
  return renamed
}

const alreadyRegistered = (id: string) => new Error(`A different workflow is already registered as "${id}"`)

/** Why a call on a stopped service fails. */
const stoppedError = () => new Error("This WorkflowService was stopped (stop() or `await using`); make a new one")

/** What a user registered, given what the engine holds for it: a Runnable's workflow or a renamed copy links it. */
const sourceOf = (definition: Workflow.Any): Runnable | Workflow.Any => {
  const source = (definition as Partial<RunnableWorkflow | Renamed>).source
  return source instanceof Runnable || Workflow.isWorkflow(source) ? source : definition
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
  private readonly runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
  private readonly persistence: PersistenceProvider | undefined
  private readonly planning: boolean
  /** The chat's debug flag (`/workflow debug`, `getDebug`/`setDebug`): the engine's runtime provides this one. */
  private readonly debug: ChatAdapter.DebugService = Effect.runSync(ChatAdapter.makeDebug())
  /** The engine's services, once its runtime is built. */
  private services: Context.Context<Services> | undefined
  /** Workflows registered before the engine was built, in order: the engine registers them as it is built. */
  private readonly pending: Array<Workflow.Any> = []
  /** Aborted by `stop()`: interrupts the calls and streams still waiting on the engine. */
  private readonly stopping = new AbortController()
  private stopped: Promise<void> | undefined

  constructor(options: WorkflowServiceOptions = {}) {
    super()
    const storage = options.storage ??
      (options.executionStorage !== undefined
        ? UserStorage.layer(options.executionStorage)
        : ExecutionStorage.layerMemory)
    const services = WorkflowEngine.layerWith(options.engine ?? {}).pipe(
      Layer.provideMerge(storage),
      Layer.merge(options.models ?? Models.layerBuiltin),
      Layer.merge(Layer.succeed(ChatAdapter.Debug, this.debug))
    )
    // The engine's background work must not keep Node alive, and what it logs goes to `logger` only.
    const runtime = Layer.merge(Layer.setClock(KeepAlive.clock), Logging.layer(options.logger, options.logLevel))
    this.runtime = ManagedRuntime.make(
      Layer.tap(services, (context) => this.built(context)).pipe(Layer.provide(runtime))
    )
    this.persistence = options.persistenceProvider
    this.planning = options.planning !== false
    if (this.planning) {
      for (const workflow of [Planning.taskPlanner, Planning.planExecutor, Planning.promptAnalyzer]) {
        this.registerWorkflow(workflow.name, workflow)
      }
    }
  }

  /** The engine is up: it takes the registrations made so far; later ones go to it directly. */
  private built(services: Context.Context<Services>): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.services = services
      const queued = this.pending.splice(0)
      return Effect.flatMap(
        WorkflowEngine.WorkflowEngine,
        (engine) => Effect.forEach(queued, (workflow) => engine.register(workflow as Registrable), { discard: true })
      ).pipe(Effect.provide(services), Effect.orDie) // each was checked against the others when it was registered
    })
  }

  /**
   * Runs `f` on the engine synchronously, building the engine first if it is
   * not yet built (storage Layers that open synchronously: memory, SQLite, a
   * `WorkflowExecutionStorage`). One whose storage connects asynchronously
   * (PostgreSQL) is ready once `start()` has resolved.
   */
  private engineSync<A, E>(f: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<A, E, Services>): A {
    if (this.stopping.signal.aborted) throw stoppedError()
    if (this.services === undefined) {
      const build = this.runtime.runSyncExit(Effect.void)
      if (this.services === undefined) {
        const failure = Exit.isFailure(build) ? Cause.squash(build.cause) : undefined
        throw failure !== undefined && !Runtime.isAsyncFiberException(failure)
          ? failure
          : new Error("WorkflowService: the engine is still starting (its storage opens asynchronously); await start()")
      }
    }
    return valueOf(Effect.runSyncExit(Effect.provide(Effect.flatMap(WorkflowEngine.WorkflowEngine, f), this.services)))
  }

  /** Keeps the registry, starts the engine and restores a plan left waiting for approval in storage. */
  override async start(registry: Registry): Promise<void> {
    this.registry = registry
    await this.runEffect(Effect.void)
    if (this.planning) await this.restorePlan()
  }

  /**
   * Shuts the engine down: runs going on here stop where they are, stored as
   * they are and released, for a later process to resume (or recover);
   * pending calls such as `result()` reject and open streams fail with an
   * error saying the service stopped, and so do calls made afterwards.
   * Stopping again does nothing more.
   */
  override stop(): Promise<void> {
    if (this.stopped === undefined) {
      this.stopping.abort()
      this.stopped = this.runtime.dispose()
    }
    return this.stopped
  }

  /**
   * `stop()`, for `await using service = new WorkflowService(...)`.
   *
   * @since 0.2.0
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /**
   * Registers a Runnable (or an Effect workflow) under `id`, with the engine.
   * The same object again is a no-op; another one under the same id throws.
   */
  registerWorkflow(id: string, workflow: Runnable | Workflow.Any): void {
    if (!(workflow instanceof Runnable) && !Workflow.isWorkflow(workflow)) {
      throw new TypeError(`Workflow "${id}" must be a Runnable or a workflow made with Workflow.make`)
    }
    // Before the engine is built, what is registered is what waits for it.
    const existing = this.services === undefined
      ? this.pending.find((definition) => definition.name === id)
      : Option.getOrUndefined(this.engineSync((engine) => engine.definition(id)))
    if (existing !== undefined) {
      if (existing === workflow || sourceOf(existing) === workflow) return
      throw alreadyRegistered(id)
    }
    const definition = definitionFor(id, workflow, { registry: () => this.registry, persistence: this.persistence })
    if (this.services === undefined) {
      this.pending.push(definition)
    } else {
      this.engineSync((engine) =>
        Effect.catchTag(
          engine.register(definition as Registrable),
          "WorkflowAlreadyRegistered",
          () => Effect.fail(alreadyRegistered(id))
        )
      )
    }
  }

  /** The registered workflows, in the order they were registered. */
  listWorkflows(): Array<WorkflowInfo> {
    return this.engineSync((engine) => engine.list).map(({ description, name, parseArgs }) => ({
      name,
      ...(description !== undefined ? { description } : {}),
      ...(parseArgs !== undefined ? { parseArgs } : {})
    }))
  }

  /** What was registered as `name`: the Runnable, or the Effect workflow. */
  getWorkflow(name: string): Runnable | Workflow.Any | undefined {
    const definition = this.engineSync((engine) => engine.definition(name))
    return Option.isSome(definition) ? sourceOf(definition.value) : undefined
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
   *
   * Given the Runnable (or the Effect workflow) itself, it starts the
   * workflow registered as that object, registering it under its `name` if
   * it is not registered yet, and the handle's `result()` has its output
   * type (a Runnable's `O`). Given an id, the output type is `T` (default
   * `unknown`), which only you can vouch for.
   */
  startWorkflow<I, O>(
    workflow: Runnable<I, O>,
    input: I,
    options?: StartWorkflowOptions
  ): Promise<WorkflowExecutionHandle<O>>
  startWorkflow<A, I, E, R>(
    workflow: Workflow.Workflow<A, I, E, R>,
    input: I,
    options?: StartWorkflowOptions
  ): Promise<WorkflowExecutionHandle<A>>
  startWorkflow<T = unknown>(
    workflowId: string,
    input: unknown,
    options?: StartWorkflowOptions
  ): Promise<WorkflowExecutionHandle<T>>
  async startWorkflow(
    workflow: string | Runnable | Workflow.Any,
    input: unknown,
    options: StartWorkflowOptions = {}
  ): Promise<WorkflowExecutionHandle<unknown>> {
    const workflowId = typeof workflow === "string" ? workflow : await this.idOf(workflow)
    const handle = await this.runEngine((engine) =>
      // Called from a workflow's body (a Runnable's generator, a step): that execution is the parent.
      atCallerLocation(
        engine.start(workflowId, input, options.executionId !== undefined ? { executionId: options.executionId } : {})
      )
    )
    return this.handleOf(handle.id, workflowId, handle.created)
  }

  /** The id `workflow` is registered under; registered under its name first if it is not registered. */
  private async idOf(workflow: Runnable | Workflow.Any): Promise<string> {
    await this.runEffect(Effect.void) // the engine, built: what it holds is what is registered
    const registered = this.listWorkflows().find(({ name }) => this.getWorkflow(name) === workflow)
    if (registered !== undefined) return registered.name
    this.registerWorkflow(workflow.name, workflow)
    return workflow.name
  }

  /** Runs a stored execution that has not finished, from its journal. */
  async resume<T = unknown>(executionId: string): Promise<WorkflowExecutionHandle<T>> {
    const handle = await this.runEngine((engine) => engine.resume(executionId))
    return this.handleOf<T>(handle.id, handle.workflow, false)
  }

  /**
   * Starts a new execution that replays `executionId`'s journal up to `options.fromStep` and runs for
   * real from there (see `WorkflowEngine.fork`).
   *
   * @since 0.2.0
   */
  async fork<T = unknown>(
    executionId: string,
    options: WorkflowEngine.ForkOptions
  ): Promise<WorkflowExecutionHandle<T>> {
    const handle = await this.runEngine((engine) => engine.fork(executionId, options))
    return this.handleOf<T>(handle.id, handle.workflow, handle.created)
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

  /**
   * Sends a signal to an execution (see `WorkflowEngine.signal`): a Runnable receives it with
   * `context.signal(name)`.
   *
   * @since 0.2.0
   */
  signal(executionId: string, name: string, payload: unknown): Promise<void> {
    return this.runEngine((engine) => engine.signal(executionId, name, payload))
  }

  /**
   * Stores a schedule (see `WorkflowEngine.schedule`): the workflow started with `input` at each tick
   * of `cron`, by any engine on the storage that has it registered.
   *
   * @since 0.2.0
   */
  async schedule(
    options: WorkflowEngine.ScheduleOptions & {
      readonly workflow: string | Runnable | Workflow.Any
      readonly input: unknown
    }
  ): Promise<ExecutionStorage.ScheduleRecord> {
    const workflow = typeof options.workflow === "string" ? options.workflow : await this.idOf(options.workflow)
    return this.runEngine((engine) => engine.schedule({ ...options, workflow }))
  }

  /** @since 0.2.0 */
  schedules(): Promise<ReadonlyArray<ExecutionStorage.ScheduleRecord>> {
    return this.runEngine((engine) => engine.schedules)
  }

  /** @since 0.2.0 */
  pauseSchedule(name: string): Promise<void> {
    return this.runEngine((engine) => engine.pauseSchedule(name))
  }

  /** @since 0.2.0 */
  resumeSchedule(name: string): Promise<void> {
    return this.runEngine((engine) => engine.resumeSchedule(name))
  }

  /** @since 0.2.0 */
  unschedule(name: string): Promise<void> {
    return this.runEngine((engine) => engine.unschedule(name))
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
      if (this.planning) await this.restorePlan()
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
    return this.runEffect(WorkflowEngine.WorkflowEngine)
  }

  private handleOf<T>(id: string, workflowId: string, created: boolean): WorkflowExecutionHandle<T> {
    const result = () => this.runEngine((engine) => engine.result(id)) as Promise<T>
    return {
      id,
      workflowId,
      created,
      stream: () => new WorkflowEventStream(() => KeepAlive.holdingEach(this.events(id)), result),
      result,
      response: result,
      cancel: () => this.cancel(id),
      resume: () => this.resume<T>(id)
    }
  }

  private async *events(id: string): AsyncGenerator<WorkflowEvent.StoredEvent> {
    const runtime = await this.runEffect(Effect.runtime<Services>())
    const events: Stream.Stream<WorkflowEvent.StoredEvent, unknown, WorkflowEngine.WorkflowEngine> = Stream.unwrap(
      Effect.map(WorkflowEngine.WorkflowEngine, (engine) => engine.events(id))
    ).pipe(Stream.interruptWhen(this.whenStopped))
    yield* Stream.toAsyncIterableRuntime(events, runtime)
  }

  /** Fails with the "stopped" error once `stop()` is called. */
  private readonly whenStopped: Effect.Effect<never, Error> = Effect.async((resume) => {
    const signal = this.stopping.signal
    const stopped = () => resume(Effect.fail(stoppedError()))
    if (signal.aborted) return stopped()
    signal.addEventListener("abort", stopped, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", stopped))
  })

  /** Runs `f` on the engine. Rejects with the failure itself. */
  private runEngine<A, E>(
    f: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<A, E, Services>
  ): Promise<A> {
    return this.runEffect(Effect.flatMap(WorkflowEngine.WorkflowEngine, f))
  }

  /**
   * Runs `effect` in the engine's runtime, keeping the process alive until it
   * ends. `stop()` interrupts it, and then it rejects with the "stopped" error.
   */
  private runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    const signal = this.stopping.signal
    if (signal.aborted) return Promise.reject(stoppedError())
    return KeepAlive.holding(async () => {
      const exit = await this.runtime.runPromiseExit(effect, { signal })
      if (signal.aborted && Exit.isInterrupted(exit)) throw stoppedError()
      return valueOf(exit)
    })
  }
}

/** The value, or the failure itself thrown (not a wrapper), so Promise callers see the errors they expect. */
const valueOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
