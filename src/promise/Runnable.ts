/**
 * `Runnable`: a unit of work whose `invoke` is an async generator yielding
 * workflow events and returning its result, in the shape of Token Ring's
 * `@token-ring/runnable` (not published, so it lives here).
 *
 * @since 0.1.0
 */
import type * as Workflow from "../Workflow.js"
import * as WorkflowEvent from "../WorkflowEvent.js"
import { toPromise } from "./internal/bridge.js"
import { fromRunnable } from "./internal/runnableWorkflow.js"
import type { PersistenceProvider } from "./PersistenceProvider.js"
import type { Registry } from "./Registry.js"
import * as Validation from "./validation.js"

/**
 * An event as a Runnable yields it: `timestamp` may be left out.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkflowEventInput = WorkflowEvent.EventDraft

/**
 * What `invoke` may yield: an event (`WorkflowEventInput`), or any object
 * with a `type`, as a generator without a return type annotation yields
 * them (TypeScript widens `type: "log"` to `string` there, so its events
 * could not be `WorkflowEventInput`). Each value is checked as an event when
 * it is yielded: one that is not an event fails the run with `InvalidEvent`,
 * naming what is wrong. Annotate `invoke` as returning
 * `AsyncGenerator<WorkflowEventInput, O>` to have the compiler check your
 * events as you write them.
 *
 * @since 0.2.0
 * @category models
 */
export type RunnableYield = WorkflowEventInput | { readonly type: string }

/**
 * What `invoke` receives when the WorkflowService runs it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowContext<I = unknown> {
  readonly executionId: string
  /** The same as `executionId`. */
  readonly workflowInstanceId: string
  /** The id the workflow was registered under. */
  readonly workflowId: string
  readonly registry: Registry | null
  /** Aborted when the execution is cancelled (or the run is otherwise stopped). */
  readonly abortSignal: AbortSignal
  readonly input: I
  readonly persistence: PersistenceProvider | undefined
  /**
   * Runs `fn` once per execution, like `Workflow.step`: on resume a completed
   * step returns its journaled result without running again.
   */
  step<A>(name: string, fn: () => Promise<A> | A): Promise<A>
  /**
   * Sleeps durably, like `Workflow.sleep`: the execution waits with no process holding it, and resumes
   * (replaying the generator) once `ms` have passed, after a restart too.
   *
   * @since 0.2.0
   */
  sleep(ms: number): Promise<void>
  /**
   * Receives a signal sent with `WorkflowService.signal(executionId, name, payload)`, like
   * `Workflow.signal`: the first of that name not yet received, waiting for it durably. With a
   * `timeoutMs`, resolves `undefined` when none came in time.
   *
   * @since 0.2.0
   */
  signal(name: string, options?: { readonly timeoutMs?: number }): Promise<unknown>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunnableOptions {
  readonly name?: string
  readonly description?: string
  readonly inputSchema?: Validation.AnySchema
  readonly outputSchema?: Validation.AnySchema
}

/**
 * Subclass it and implement `invoke`:
 *
 * ```ts
 * class Greet extends Runnable<{ name: string }, string> {
 *   description = "Greets"
 *   async *invoke(input: { name: string }) {
 *     yield { type: "log", level: "info", message: "greeting" }
 *     return `hello ${input.name}`
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export class Runnable<I = any, O = any> {
  name: string
  description: string | undefined
  inputSchema: Validation.AnySchema | undefined
  outputSchema: Validation.AnySchema | undefined
  /** Optional: parses a command line (`/workflow run <name> <args>`) into the input. */
  parseArgs?(args: string): I

  constructor(options: RunnableOptions = {}) {
    this.name = options.name ?? this.constructor.name
    this.description = options.description
    this.inputSchema = options.inputSchema
    this.outputSchema = options.outputSchema
  }

  /** Yields events while it works and returns the result. */

  async *invoke(_input: I, _context?: WorkflowContext<I>): AsyncGenerator<RunnableYield, O, unknown> {
    throw new Error(`${this.name}.invoke() is not implemented`)
  }

  /**
   * Runs `invoke` outside any WorkflowService and returns the result: the data
   * of the last `final_output` event, else the generator's return value. Input
   * and output are validated against the schemas. A human approval cannot be
   * answered here: run the Runnable through a WorkflowService for that.
   */
  async run(input: I, context?: WorkflowContext<I>): Promise<O> {
    const valid = (await toPromise(Validation.input(this.name, this.inputSchema, input))) as I
    const generator = this.invoke(valid, context)
    let finalOutput: { readonly data: unknown } | undefined
    let step = await generator.next()
    while (!step.done) {
      const event = await toPromise(WorkflowEvent.decode({ timestamp: Date.now(), ...step.value }))
      if (event.type === "human_approval_required") {
        await generator.return(undefined as O)
        throw new Error(
          `${this.name} asks for approval of "${event.taskId}", which needs a WorkflowService to answer it`
        )
      }
      if (event.type === "final_output") finalOutput = { data: event.data }
      step = await generator.next()
    }
    const result = finalOutput === undefined ? step.value : finalOutput.data
    return (await toPromise(Validation.output(this.name, this.outputSchema, result))) as O
  }

  /** A short description of the Runnable and its schemas. */
  help(): string {
    return [
      this.name,
      this.description ?? "",
      this.inputSchema !== undefined ? "input: validated by a schema" : "",
      this.outputSchema !== undefined ? "output: validated by a schema" : ""
    ].filter((line) => line.length > 0).join("\n")
  }
}

/**
 * A workflow made from a Runnable by `toWorkflow`. It is started with the
 * input as given (validated by the Runnable's `inputSchema` before the
 * execution is created, and once by each run, whose generator gets the
 * parsed value).
 *
 * @since 0.2.0
 * @category models
 */
export interface RunnableWorkflow extends Workflow.Workflow<unknown, unknown, unknown> {
  /** The Runnable it drives: what `WorkflowService.getWorkflow` returns for it. */
  readonly source: Runnable
}

/**
 * A Runnable as a workflow of the Effect engine, named `id` (default: its
 * name): its generator is driven as a durable workflow body, as
 * `WorkflowService` runs it.
 *
 * @since 0.2.0
 * @category conversions
 */
export const toWorkflow = (
  runnable: Runnable,
  options: {
    readonly id?: string
    readonly registry?: () => Registry | null
    readonly persistence?: PersistenceProvider
  } = {}
): RunnableWorkflow =>
  fromRunnable({
    id: options.id ?? runnable.name,
    runnable,
    registry: options.registry ?? (() => null),
    persistence: options.persistence
  })
