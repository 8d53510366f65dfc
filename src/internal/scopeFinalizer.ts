/**
 * A finalizer added straight to the scope in context. `Effect.addFinalizer`
 * (and so `Effect.acquireRelease`) runs its finalizer with the fiber's state
 * of when it was added, which costs two diffs of every FiberRef (the whole
 * Context included) when added and two patches when run. The finalizers
 * on the path of every run (its writer, its lease, its gauge, its
 * execution's signal) read no fiber state, so they need none of it.
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"

/**
 * Runs `finalizer` when the scope closes, in whatever fiber closes it, uninterruptibly (as
 * `acquireRelease` runs its release): a writer's last flush is not cut short.
 */
export const onClose = (finalizer: Effect.Effect<void>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, Effect.uninterruptible(finalizer)))
