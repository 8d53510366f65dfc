/**
 * What keeps Node alive for a `WorkflowService`, as Node code expects of a
 * library: the work a user is waiting for does, the service's background
 * work does not. So a script that runs a workflow and ends, ends.
 *
 * - A run of an execution keeps the process alive: its sleeps (a step's
 *   retry delay, a timeout, `Effect.sleep` in a body) are ordinary timers.
 * - A pending call on the service (`result()`, `approve()`...) and a stream
 *   waiting for its next event keep it alive, as a pending socket read does.
 * - Everything else the engine sleeps for (lease renewals, recovery scans,
 *   storage polls between a subscriber's reads) sleeps on unref'd timers.
 *
 * The engine's runtime gets `clock`, which tells a run's sleep from the
 * others by the `ExecutionContext` every run provides to its body.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Workflow from "../../Workflow.js"

const live = Clock.make()

/** The longest delay a Node timer takes; a longer sleep never wakes, as on the live clock. */
const maxTimerMillis = 2 ** 31 - 1

/** Sleeps on a timer that does not keep the process alive. */
const sleepUnref = (duration: Duration.Duration): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const millis = Duration.toMillis(duration)
    if (millis > maxTimerMillis) return
    const timer = setTimeout(() => resume(Effect.void), millis)
    timer.unref()
    return Effect.sync(() => clearTimeout(timer))
  })

/** The live clock, except that a sleep outside any run does not keep the process alive. */
export const clock: Clock.Clock = {
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  currentTimeMillis: live.currentTimeMillis,
  currentTimeNanos: live.currentTimeNanos,
  unsafeCurrentTimeMillis: () => live.unsafeCurrentTimeMillis(),
  unsafeCurrentTimeNanos: () => live.unsafeCurrentTimeNanos(),
  sleep: (duration) =>
    Effect.flatMap(
      Effect.serviceOption(Workflow.ExecutionContext),
      (run) => Option.isSome(run) ? live.sleep(duration) : sleepUnref(duration)
    )
}

/** Keeps the process alive until `promise` settles (a timer that never fires, cleared then). */
export const holding = async <A>(promise: () => Promise<A>): Promise<A> => {
  const keepAlive = setInterval(() => undefined, maxTimerMillis)
  try {
    return await promise()
  } finally {
    clearInterval(keepAlive)
  }
}

/**
 * `iterable`, keeping the process alive while a `next()` is pending only: an
 * iterator left unfinished between two reads holds nothing.
 */
export const holdingEach = <A>(iterable: AsyncIterable<A>): AsyncIterable<A> => ({
  [Symbol.asyncIterator]: () => {
    const iterator = iterable[Symbol.asyncIterator]()
    return {
      next: () => holding(() => iterator.next()),
      return: (value?: unknown) =>
        iterator.return !== undefined ? iterator.return(value) : Promise.resolve({ done: true, value: undefined })
    }
  }
})
