/**
 * A step's body as the interpreter runs it: with its timeout and retries.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type { StepOptions } from "../Workflow.js"
import { StepTimeout } from "./workflowErrors.js"

/**
 * A step's body with its timeout and retries. Each retry is a body that starts again, after a wait in which
 * the process may have stalled: it starts only once the lease is confirmed, like the first.
 */
export const attempt = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options: StepOptions<A, E, R> | undefined,
  confirmLease: () => Effect.Effect<void> | undefined
): Effect.Effect<A, E | StepTimeout, R> => {
  let result: Effect.Effect<A, E | StepTimeout, R> = effect
  if (options?.timeout !== undefined) {
    const duration = Duration.decode(options.timeout)
    result = Effect.timeoutFail(effect, {
      duration,
      onTimeout: () => new StepTimeout({ step: name, timeout: Duration.format(duration) })
    })
  }
  if (options?.retry !== undefined) {
    const once = result
    const confirmed = Effect.suspend(() => {
      const stale = confirmLease()
      return stale === undefined ? once : Effect.zipRight(stale, once)
    })
    result = Effect.retry(confirmed, options.retry as Schedule.Schedule<unknown, E | StepTimeout, R>)
  }
  return result
}
