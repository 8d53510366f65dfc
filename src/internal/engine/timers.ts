/**
 * Durable sleep's other half: the loop that wakes executions whose wake-up
 * time has come. Each round claims the due executions of the workflows
 * registered here (`wakeDue`: one statement, however many executions
 * sleep), launches them, and waits until the next wake-up the storage
 * answered, or until told of an earlier one: a wait stored here, another
 * process's hint, or at most `poll` in case a hint was lost. Waits and wakes
 * on the engine's `Clock`, so that `TestClock` drives sleeps too.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { WakeClaimed } from "../../ExecutionStorage.js"
import { Signal } from "../notifier.js"
import type { WorkersOptions } from "./workers.js"

/** At most this many executions woken by one statement. */
const WAKE_BATCH = 100

export interface Timers {
  /** An execution here started waiting until `wakeAt`: the loop wakes earlier if it must. */
  readonly waiting: (wakeAt: number) => void
  /** Something may have changed elsewhere (a hint): the loop asks the storage again. */
  readonly wake: () => void
}

/** As a worker's loops are made: `poll` is the longest the loop waits without asking the storage. */
export type TimersOptions = WorkersOptions

export const make = (
  { clock, lease, poll, registry, runs, storage }: TimersOptions
): Effect.Effect<Timers, never, Scope.Scope> =>
  Effect.gen(function*() {
    const signal = new Signal()
    /** The earliest wake-up the loop waits for (undefined: none known). */
    let next: number | undefined
    const timers: Timers = {
      waiting: (wakeAt) => {
        if (next === undefined || wakeAt < next) {
          next = wakeAt
          signal.notify()
        }
      },
      wake: () => signal.notify()
    }
    const { wakeDue } = storage
    if (wakeDue === undefined) return timers
    const round = Effect.gen(function*() {
      const seen = signal.version
      const now = clock.unsafeCurrentTimeMillis()
      const workflows = registry.names()
      const answer = workflows.length === 0
        ? { claimed: [] }
        : yield* wakeDue({ now, workflows, limit: WAKE_BATCH, owner: runs.claim.owner, leaseMs: lease }).pipe(
          Effect.tapError((error) => Effect.logWarning("Waking sleeping executions failed", error)),
          Effect.orElseSucceed((): WakeClaimed => ({ claimed: [] }))
        )
      for (const record of answer.claimed) {
        const definition = registry.get(record.workflow)
        if (definition !== undefined) {
          yield* runs.launch(record.id, definition, { record, claimedAt: now, started: true })
        }
      }
      // Woke as many as it asked for: there may be more due at once.
      if (answer.claimed.length === WAKE_BATCH) return
      next = answer.next
      const until = next === undefined ? poll : Duration.millis(Math.max(0, next - clock.unsafeCurrentTimeMillis()))
      yield* signal.wait(seen, Duration.min(until, poll))
    })
    yield* Effect.forkScoped(Effect.forever(round))
    return timers
  })
