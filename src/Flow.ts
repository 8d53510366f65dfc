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
import { Deferred, Duration, Effect, FiberId, FiberRef, Schedule } from "effect"
import { currentCursor } from "./internal/runtime.js"

interface FlowState {
  readonly path: string
  readonly cache: Map<string, Deferred.Deferred<any, any>>
}

const currentFlow = FiberRef.unsafeMake<FlowState | undefined>(undefined)

/** Runs one named task: a journaled step inside an execution, a logged effect outside. */
const task = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>, key: string | undefined) =>
  FiberRef.getWith(currentCursor, (cursor): Effect.Effect<A, E, R> => {
    const frame = cursor.frame
    if (frame !== undefined) {
      return (key === undefined
        ? frame.runtime.step(frame, cursor, name, effect)
        : frame.runtime.stepAt(frame, cursor, key, name, effect)) as Effect.Effect<A, E, R>
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
    const cache = parent?.cache ?? new Map<string, Deferred.Deferred<any, any>>()
    const path = parent === undefined ? name : `${parent.path}/${name}`
    const cached = cache.get(path)
    if (cached !== undefined) return Deferred.await(cached as Deferred.Deferred<A, E>)
    const result = Deferred.unsafeMake<A, E>(FiberId.none)
    cache.set(path, result)
    return task(name, Effect.locally(effect, currentFlow, { path, cache }), key).pipe(
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
  FiberRef.getWith(currentCursor, ({ frame }) => {
    const keys = frame?.runtime.branchKeys(frame, tasks.length)
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
export interface QueueOptions<A, B, E, R> {
  readonly name: string
  readonly fn: (item: A) => Effect.Effect<B, E, R>
  /** Up to this many retries after the first attempt (0: no retry). */
  readonly retries: number
  /**
   * The delay between attempts: a Schedule, or an exponential backoff
   * (default: from 100 ms, doubling).
   */
  readonly backoff?:
    | Schedule.Schedule<unknown, E, R>
    | { readonly initial: Duration.DurationInput; readonly factor?: number }
  /** At most this many items are processed at once (default: all). */
  readonly concurrency?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkQueue<A, B, E, R> {
  /** Processes one item as the task `name[n]`, n counting pushes, and returns its result. */
  readonly push: (item: A) => Effect.Effect<B, E, R>
  /** Pushes every item and returns the results in order. */
  readonly pushAll: (items: Iterable<A>) => Effect.Effect<Array<B>, E, R>
}

/**
 * Creates a work queue: items pushed into it are processed by `fn` with
 * bounded concurrency, each failed attempt retried on the backoff schedule up
 * to `retries` times. It can be used anywhere, inside flows included.
 *
 * @since 0.1.0
 * @category queues
 */
export const queue = <A, B, E, R>(options: QueueOptions<A, B, E, R>): Effect.Effect<WorkQueue<A, B, E, R>> =>
  Effect.gen(function*() {
    const permits = options.concurrency === undefined ? undefined : yield* Effect.makeSemaphore(options.concurrency)
    const backoff = options.backoff === undefined
      ? Schedule.exponential("100 millis")
      : Schedule.isSchedule(options.backoff)
      ? options.backoff
      : Schedule.exponential(options.backoff.initial, options.backoff.factor ?? 2)
    const retry = Schedule.intersect(backoff, Schedule.recurs(Math.max(0, options.retries)))
    let pushed = 0
    const process = (item: A, attempt: { n: number }) =>
      Effect.suspend(() => options.fn(item)).pipe(
        Effect.tapError((error) =>
          Effect.suspend(() => {
            attempt.n++
            return attempt.n <= options.retries
              ? report(`${options.name}: attempt ${attempt.n} failed, retrying`, error)
              : Effect.void
          })
        ),
        Effect.retry(retry)
      )
    const named = (item: A) => {
      const run = process(item, { n: 0 })
      return [`${options.name}[${pushed++}]`, permits === undefined ? run : permits.withPermits(1)(run)] as const
    }
    return {
      push: (item) =>
        Effect.suspend(() => {
          const [name, run] = named(item)
          return flow(name, run)
        }),
      // Numbered and (inside an execution) journaled in order before any item starts, so replay is deterministic.
      pushAll: (items) => Effect.suspend(() => branches(Array.from(items, named), undefined))
    }
  })

/** A warning: a `log` event inside an execution, an Effect log outside. */
const report = (message: string, details: unknown) =>
  FiberRef.getWith(currentCursor, ({ frame }) =>
    frame !== undefined
      ? frame.runtime.emit(frame, { type: "log", level: "warn", message, details: errorDetails(details) })
      : Effect.logWarning(message, details))

const errorDetails = (error: unknown): unknown =>
  error instanceof Error ? { name: error.name, message: error.message } : error

/**
 * A lazy task: the returned effect runs `effect` as the task `name` the first
 * time it is awaited, and gives every later caller the same result.
 *
 * @since 0.1.0
 * @category tasks
 */
export const deferred = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Effect.Effect<A, E, R>> => Effect.cached(flow(name, effect))

/**
 * @since 0.1.0
 * @category models
 */
export interface ProcessedNode<D, A> {
  readonly data: D
  readonly result: A
  readonly subtasks: ReadonlyArray<ProcessedNode<D, A>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RecursiveOptions<D, A, E, R> {
  /** The name of the root task (default "recursiveProcessor"). */
  readonly name?: string
  readonly processor: (data: D, pass: number) => Effect.Effect<A, E, R>
  /** The subtasks a result calls for; none ends that branch. */
  readonly generateSubtaskData: (
    result: A,
    data: D,
    pass: number
  ) => Effect.Effect<ReadonlyArray<D>, E, R> | ReadonlyArray<D>
  /** Passes at most: pass 1 processes `data`, pass 2 its subtasks, and so on. */
  readonly maxPasses: number
  /** Folds the subtasks' results into their parent's result. */
  readonly storeSubtaskResult?: (result: A, subtaskResults: ReadonlyArray<A>, data: D) => Effect.Effect<A, E, R> | A
  readonly concurrency?: number
}

/**
 * Processes `data`, then the subtasks its result calls for, recursively, for
 * at most `maxPasses` passes. Each node is a task named by its position
 * (`name`, `name.0`, `name.0.1`...). Returns the tree of results.
 *
 * @since 0.1.0
 * @category recursion
 */
export const recursiveProcessor = <D, A, E, R>(
  data: D,
  options: RecursiveOptions<D, A, E, R>
): Effect.Effect<ProcessedNode<D, A>, E, R> => {
  const lift = <X>(value: Effect.Effect<X, E, R> | X): Effect.Effect<X, E, R> =>
    Effect.isEffect(value) ? value as Effect.Effect<X, E, R> : Effect.succeed(value as X)
  const node = (item: D, pass: number, label: string): Effect.Effect<ProcessedNode<D, A>, E, R> =>
    Effect.gen(function*() {
      const result = yield* options.processor(item, pass)
      if (pass >= options.maxPasses) return { data: item, result, subtasks: [] }
      const subtaskData = yield* lift(options.generateSubtaskData(result, item, pass))
      if (subtaskData.length === 0) return { data: item, result, subtasks: [] }
      const subtasks = yield* branches(
        subtaskData.map((sub, i) => [`${label}.${i}`, node(sub, pass + 1, `${label}.${i}`)] as const),
        options.concurrency === undefined ? undefined : { concurrency: options.concurrency }
      )
      const combined = options.storeSubtaskResult === undefined
        ? result
        : yield* lift(options.storeSubtaskResult(result, subtasks.map((sub) => sub.result), item))
      return { data: item, result: combined, subtasks }
    })
  const name = options.name ?? "recursiveProcessor"
  return flow(name, node(data, 1, name))
}
