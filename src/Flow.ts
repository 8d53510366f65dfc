/**
 * Flow utilities: named tasks, fan-out, work queues with retries, lazy tasks
 * and recursive processing, on Effect fibers.
 *
 * Every task is named. Inside a workflow execution a task is a durable step:
 * it emits `step_start`/`step_end` and is journaled, so a resumed execution
 * does not run it again. Outside one, tasks log at debug level. Within one
 * root `flow`, a task is identified by its path (`root/child/grandchild`) and
 * runs at most once: calling it again returns the first result.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Schedule from "effect/Schedule"
import * as Body from "./internal/body.js"
import { currentCursor } from "./internal/cursor.js"
import type { FlowRoot } from "./internal/flowState.js"
import { currentFlow } from "./internal/flowState.js"

/** Runs one named task: a journaled step inside an execution, a logged effect outside. */
const task = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>, key: string | undefined) =>
  FiberRef.getWith(currentCursor, (cursor): Effect.Effect<A, E, R> => {
    if (cursor.frame !== undefined) {
      return (key === undefined
        ? Body.step("Flow", name, effect)
        : Body.stepAt("Flow", key, name, effect)) as Effect.Effect<A, E, R>
    }
    return Effect.zipRight(
      Effect.logDebug(`task started: ${name}`),
      Effect.tapBoth(effect, {
        onFailure: (error) => Effect.logDebug(`task failed: ${name}`, error),
        onSuccess: () => Effect.logDebug(`task succeeded: ${name}`)
      })
    )
  })

const flowAt = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  key: string | undefined
): Effect.Effect<A, E, R> =>
  FiberRef.getWith(currentFlow, (parent) => {
    const root: FlowRoot = parent?.root ?? { cache: new Map(), queues: new Map(), pushed: new Map() }
    const path = parent === undefined ? name : `${parent.path}/${name}`
    const cached = root.cache.get(path)
    if (cached !== undefined) return Deferred.await(cached as Deferred.Deferred<A, E>)
    const result = Deferred.unsafeMake<A, E>(FiberId.none)
    root.cache.set(path, result)
    return task(name, Effect.locally(effect, currentFlow, { path, root }), key).pipe(
      // Completed on every exit, interruption included, so a second caller never waits forever.
      Effect.onExit((exit) => Deferred.done(result, exit))
    )
  })

/**
 * Runs `effect` as the named task `name`. It always completes with the
 * effect's own success or failure.
 *
 * @since 0.1.0
 * @category tasks
 */
export const flow = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  flowAt(name, effect, undefined)

/**
 * @since 0.1.0
 * @category models
 */
export interface ConcurrencyOptions {
  /** At most this many branches run at once (default: all). */
  readonly concurrency?: number
}

/** Runs named branches concurrently; inside an execution their journal keys are allocated in order first. */
const branches = <A, E, R>(
  tasks: ReadonlyArray<readonly [string, Effect.Effect<A, E, R>]>,
  options: ConcurrencyOptions | undefined
): Effect.Effect<Array<A>, E, R> =>
  FiberRef.getWith(currentCursor, (cursor) => {
    const keys = Body.branchKeys(cursor, tasks.length)
    return Effect.forEach(tasks, ([name, effect], index) => flowAt(name, effect, keys?.[index]), {
      concurrency: options?.concurrency ?? "unbounded"
    })
  })

/**
 * Runs `producer(0)` ... `producer(count - 1)` concurrently as the tasks
 * `name[0]` ... inside the task `name`, and returns their results in order.
 *
 * @since 0.1.0
 * @category fan-out
 */
export const parallel = <A, E, R>(
  name: string,
  count: number,
  producer: (index: number) => Effect.Effect<A, E, R>,
  options?: ConcurrencyOptions
): Effect.Effect<Array<A>, E, R> =>
  flow(
    name,
    Effect.suspend(() =>
      branches(Array.from({ length: count }, (_, i) => [`${name}[${i}]`, producer(i)] as const), options)
    )
  )

/**
 * Runs the given effects concurrently as the tasks `name[0]` ... inside the
 * task `name`, and returns their results in order.
 *
 * @since 0.1.0
 * @category fan-out
 */
export const all = <A, E, R>(
  name: string,
  producers: ReadonlyArray<Effect.Effect<A, E, R>>,
  options?: ConcurrencyOptions
): Effect.Effect<Array<A>, E, R> =>
  flow(name, Effect.suspend(() => branches(producers.map((effect, i) => [`${name}[${i}]`, effect] as const), options)))

/**
 * @since 0.1.0
 * @category models
 */
export interface QueueOptions<A, E, R> {
  /** The queue: calls with the same name within one root flow share its concurrency limit. */
  readonly name: string
  readonly fn: Effect.Effect<A, E, R>
  /** Up to this many retries after the first attempt (default 3; 0: no retry). */
  readonly retries?: number
  /**
   * The delay between attempts: a Schedule, or an exponential backoff
   * (default: from 100 ms, doubling).
   */
  readonly backoff?:
    | Schedule.Schedule<unknown, E, R>
    | { readonly initial: Duration.DurationInput; readonly factor?: number }
  /** How many tasks of this queue run at once, set by the call that creates it (default 10). */
  readonly concurrency?: number
}

/**
 * Runs `fn` as the next task `name#n` of the named work queue of the
 * enclosing root flow: at most `concurrency` of its tasks run at once, and a
 * failed attempt is retried on the backoff schedule up to `retries` times.
 * Reachable anywhere inside a flow; outside one, it is a root flow of its own.
 *
 * @since 0.1.0
 * @category queues
 */
export const queue = <A, E, R>(options: QueueOptions<A, E, R>): Effect.Effect<A, E, R> =>
  FiberRef.getWith(currentFlow, (state) => {
    if (state === undefined) return flow(options.name, queue(options))
    const { pushed, queues } = state.root
    let permits = queues.get(options.name)
    if (permits === undefined) {
      permits = Effect.unsafeMakeSemaphore(options.concurrency ?? 10)
      queues.set(options.name, permits)
    }
    // Numbered within the calling task's path: concurrent branches number their own pushes, so the
    // numbers do not depend on which branch got there first.
    const counter = `${state.path}\u0000${options.name}`
    const n = pushed.get(counter) ?? 0
    pushed.set(counter, n + 1)
    return flow(`${options.name}#${n}`, permits.withPermits(1)(withRetries(options)))
  })

const withRetries = <A, E, R>(options: QueueOptions<A, E, R>): Effect.Effect<A, E, R> => {
  const retries = Math.max(0, options.retries ?? 3)
  const backoff = options.backoff === undefined
    ? Schedule.exponential("100 millis")
    : Schedule.isSchedule(options.backoff)
    ? options.backoff
    : Schedule.exponential(options.backoff.initial, options.backoff.factor ?? 2)
  return Effect.suspend(() => {
    let failures = 0
    return options.fn.pipe(
      Effect.tapError((error) =>
        ++failures <= retries ? report(`${options.name}: attempt ${failures} failed, retrying`, error) : Effect.void
      ),
      Effect.retry(Schedule.intersect(backoff, Schedule.recurs(retries)))
    )
  })
}

/** A warning: a `log` event inside an execution, an Effect log outside. */
const report = (message: string, details: unknown) =>
  FiberRef.getWith(currentCursor, ({ frame }) =>
    frame !== undefined
      ? Body.emit("Flow", { type: "log", level: "warn", message, details: errorDetails(details) })
      : Effect.logWarning(message, errorDetails(details)))

const errorDetails = (error: unknown): unknown =>
  error instanceof Error ? { name: error.name, message: error.message } : error

/**
 * A lazy task: calling the returned function runs `f(...args)` as the task
 * `name`. Nothing runs until it is called; within one root flow, later calls
 * return the first call's result (tasks are identified by their path).
 *
 * @since 0.1.0
 * @category tasks
 */
export const deferred = <Args extends ReadonlyArray<unknown>, A, E, R>(
  name: string,
  f: (...args: Args) => Effect.Effect<A, E, R>
): (...args: Args) => Effect.Effect<A, E, R> =>
(...args) => flow(name, Effect.suspend(() => f(...args)))

/**
 * @since 0.1.0
 * @category models
 */
export interface RecursiveOptions<D, A, E, R> {
  /** The name of the root task (default "recursiveProcessor"). */
  readonly name?: string
  readonly processor: (data: D, info: { readonly pass: number }) => Effect.Effect<A, E, R>
  /** The subtasks a result calls for; none ends that branch. */
  readonly generateSubtaskData: (result: A, pass: number) => Effect.Effect<ReadonlyArray<D>, E, R> | ReadonlyArray<D>
  /** Passes at most: pass 1 processes `data`, pass 2 its subtasks, and so on. */
  readonly maxPasses: number
  /**
   * Receives each subtask's result once it is processed (default: sets
   * `result` on the subtask's data, when that is an object).
   */
  readonly storeSubtaskResult?: (data: D, result: A) => Effect.Effect<void, E, R> | void
  /** At most this many subtasks of one node run at once (default: all). */
  readonly concurrency?: number
}

/**
 * Processes `data` (pass 1), then the subtasks `generateSubtaskData` derives
 * from its result (pass 2), and so on, for at most `maxPasses` passes. Each
 * node is a task named by its position (`name`, `name.0`, `name.0.1`...).
 * Returns the result of processing `data`.
 *
 * @since 0.1.0
 * @category recursion
 */
export const recursiveProcessor = <D, A, E, R>(
  data: D,
  options: RecursiveOptions<D, A, E, R>
): Effect.Effect<A, E, R> => {
  const store = options.storeSubtaskResult ?? ((subtask: D, result: A) => {
    if (typeof subtask === "object" && subtask !== null) (subtask as { result?: A }).result = result
  })
  const node = (item: D, pass: number, label: string): Effect.Effect<A, E, R> =>
    Effect.gen(function*() {
      const result = yield* options.processor(item, { pass })
      if (pass >= options.maxPasses) return result
      const generated = options.generateSubtaskData(result, pass)
      const subtasks = Effect.isEffect(generated) ? yield* generated : generated
      yield* branches(
        subtasks.map((sub, i) =>
          [
            `${label}.${i}`,
            Effect.flatMap(node(sub, pass + 1, `${label}.${i}`), (subResult) => {
              const stored = store(sub, subResult)
              return Effect.isEffect(stored) ? stored : Effect.void
            })
          ] as const
        ),
        options.concurrency === undefined ? undefined : { concurrency: options.concurrency }
      )
      return result
    })
  const name = options.name ?? "recursiveProcessor"
  return flow(name, node(data, 1, name))
}
