/**
 * Other processes' commits, as the storage hints them (`changes`): followers
 * here wake at once instead of at their next poll, a run here of an
 * execution cancelled elsewhere stops now, not at its next commit or lease
 * renewal, and idle workers look for work. Hints only: every follower reads
 * storage when woken.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { StorageChange } from "../../ExecutionStorage.js"
import type { Signals } from "../notifier.js"
import { isTerminal } from "../storage/service.js"
import type { Runs } from "./runs.js"
import type { Timers } from "./timers.js"
import type { Workers } from "./workers.js"

export const follow = (
  changes: Stream.Stream<StorageChange>,
  signals: Signals,
  runs: Runs,
  workers: Workers,
  timers: Timers,
  /** Runs here an execution set running elsewhere and held by no one, if this engine runs such (see engine.ts). */
  adopt: (id: string) => Effect.Effect<void>
): Effect.Effect<void, never, Scope.Scope> =>
  Stream.runForEach(changes, (change) => {
    if (change._tag === "Missed") {
      return Effect.sync(() => {
        signals.wakeAll()
        workers.wake()
        timers.wake()
      })
    }
    const { executionId: id, queue, status } = change
    // Queued elsewhere: work for the workers of its queue here (all of them when the hint does not say).
    if (status === "created") workers.wake(queue)
    // Waiting elsewhere, perhaps until a moment sooner than the one the timers wait for.
    if (status === "waiting") timers.wake()
    if (status === undefined || !isTerminal(status)) {
      signals.notify(id)
      // Set running by another process that does not run it (an approval answered by a client): here, if
      // this engine has its workflow, at once rather than at the next recovery scan.
      return status === "running" && !runs.has(id) ? Effect.asVoid(Effect.fork(adopt(id))) : Effect.void
    }
    // Ended elsewhere: `finish` also wakes the loops of queues with a fleet-wide limit (see engine.ts).
    signals.finish(id)
    // Its interruption waits for the run to end: not on the way of the hints that follow.
    return status === "cancelled" && runs.has(id) ? Effect.asVoid(Effect.fork(runs.interrupt(id))) : Effect.void
  }).pipe(Effect.forkScoped, Effect.asVoid)
