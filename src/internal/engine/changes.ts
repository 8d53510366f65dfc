/**
 * Other processes' commits, as the storage hints them (`changes`): followers
 * here wake at once instead of at their next poll, and a run here of an
 * execution cancelled elsewhere stops now, not at its next commit or lease
 * renewal. Hints only: every follower reads storage when woken.
 */
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import type { StorageChange } from "../../ExecutionStorage.js"
import type { Signals } from "../notifier.js"
import { isTerminal } from "../storage/service.js"
import type { Runs } from "./runs.js"

export const follow = (
  changes: Stream.Stream<StorageChange>,
  signals: Signals,
  runs: Runs
): Effect.Effect<void, never, Scope.Scope> =>
  Stream.runForEach(changes, (change) => {
    if (change._tag === "Missed") return Effect.sync(() => signals.wakeAll())
    const { executionId: id, status } = change
    if (status === undefined || !isTerminal(status)) return Effect.sync(() => signals.notify(id))
    signals.finish(id)
    // Its interruption waits for the run to end: not on the way of the hints that follow.
    return status === "cancelled" && runs.has(id) ? Effect.asVoid(Effect.fork(runs.interrupt(id))) : Effect.void
  }).pipe(Effect.forkScoped, Effect.asVoid)
