/**
 * The flow utilities for Promise code, over `Flow`: the same semantics (task
 * paths and caching, queues with retries, durable steps inside an execution).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Flow from "../Flow.js"
import { fromPromise, toPromise } from "./internal/bridge.js"

type Task<T> = () => Promise<T> | T

/**
 * Runs `fn` as the task `name` and resolves with its result (or rejects with its error).
 *
 * @since 0.1.0
 * @category tasks
 */
export const flow = <T>(name: string, fn: Task<T>): Promise<T> => toPromise(Flow.flow(name, fromPromise(fn)))

/**
 * Runs `producer(0..count-1)` concurrently as the tasks `name[i]`.
 *
 * @since 0.1.0
 * @category fan-out
 */
export const parallel = <T>(
  name: string,
  count: number,
  producer: (index: number) => Promise<T> | T,
  options?: Flow.ConcurrencyOptions
): Promise<Array<T>> => toPromise(Flow.parallel(name, count, (i) => fromPromise(() => producer(i)), options))

/**
 * Runs the producers concurrently as the tasks `name[i]`.
 *
 * @since 0.1.0
 * @category fan-out
 */
export const all = <T>(
  name: string,
  producers: ReadonlyArray<Task<T>>,
  options?: Flow.ConcurrencyOptions
): Promise<Array<T>> => toPromise(Flow.all(name, producers.map(fromPromise), options))

/**
 * @since 0.1.0
 * @category models
 */
export interface QueueOptions<T> {
  readonly name: string
  readonly fn?: Task<T>
  readonly retries?: number
  /** Exponential backoff between attempts (default: from 100 ms, doubling). */
  readonly backoff?: { readonly initial: number; readonly factor?: number }
  readonly concurrency?: number
}

/**
 * Runs `fn` on the named work queue of the enclosing flow, retried up to
 * `retries` times (default 3). The older form `queue({ name, retries }, fn)`
 * is accepted too.
 *
 * @since 0.1.0
 * @category queues
 */
export const queue = <T>(options: QueueOptions<T>, fn?: Task<T>): Promise<T> => {
  const task = fn ?? options.fn
  if (task === undefined) return Promise.reject(new TypeError(`queue "${options.name}" has no fn to run`))
  return toPromise(Flow.queue({
    name: options.name,
    fn: fromPromise(task),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.backoff !== undefined
      ? { backoff: { initial: `${options.backoff.initial} millis`, factor: options.backoff.factor ?? 2 } }
      : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {})
  }))
}

/**
 * A lazy task: calling the returned function runs `fn(...args)` as the task `name`.
 *
 * @since 0.1.0
 * @category tasks
 */
export const deferred = <Args extends Array<any>, T>(
  name: string,
  fn: (...args: Args) => Promise<T> | T
): (...args: Args) => Promise<T> => {
  const task = Flow.deferred(name, (...args: Args) => fromPromise(() => fn(...args)))
  return (...args) => toPromise(task(...args))
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ProcessorOptions<D, R> {
  readonly name?: string
  readonly processor: (data: D, info: { readonly pass: number }) => Promise<R> | R
  readonly generateSubtaskData: (result: R, pass: number) => Promise<ReadonlyArray<D>> | ReadonlyArray<D>
  readonly storeSubtaskResult?: (data: D, result: R) => Promise<void> | void
  readonly maxPasses: number
  readonly concurrency?: number
}

/**
 * Processes `data`, then the subtasks derived from each result, for at most
 * `maxPasses` passes; resolves with the result for `data`.
 *
 * @since 0.1.0
 * @category recursion
 */
export const recursiveProcessor = <D, R>(data: D, options: ProcessorOptions<D, R>): Promise<R> => {
  const store = options.storeSubtaskResult
  return toPromise(Flow.recursiveProcessor<D, R, unknown, never>(data, {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    maxPasses: options.maxPasses,
    processor: (item, info) => fromPromise(() => options.processor(item, info)),
    generateSubtaskData: (result, pass) => fromPromise(() => options.generateSubtaskData(result, pass)),
    ...(store !== undefined
      ? { storeSubtaskResult: (item: D, result: R) => Effect.asVoid(fromPromise(() => store(item, result))) }
      : {})
  }))
}
