/**
 * The bridge between the Promise facade and the Effect core. Promise code
 * called from an Effect (a Runnable's generator, a task function) sees the
 * workflow frame, the flow and the abort signal of the fiber that called it,
 * through AsyncLocalStorage; Promise helpers called from there run their
 * Effects with that frame and flow again.
 */
import { Cause, Effect, Exit, FiberRef, FiberRefs, Runtime } from "effect"
import { AsyncLocalStorage } from "node:async_hooks"
import type { FlowState } from "./flowState.js"
import { currentFlow } from "./flowState.js"
import type { Frame } from "./runtime.js"
import { currentCursor } from "./runtime.js"

interface Store {
  readonly frame: Frame | undefined
  readonly flow: FlowState | undefined
  readonly signal: AbortSignal | undefined
  readonly runtime: Runtime.Runtime<never>
}

const storage = new AsyncLocalStorage<Store>()

/** The abort signal of the running Runnable, aborted when its run is interrupted. @internal */
export const currentSignal = FiberRef.unsafeMake<AbortSignal | undefined>(undefined)

/**
 * Runs a Promise function as an Effect; its failure is what it threw.
 *
 * @internal
 */
export const fromPromise = <A>(f: () => PromiseLike<A> | A): Effect.Effect<A, unknown> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) => {
    const store: Store = {
      frame: FiberRefs.getOrDefault(runtime.fiberRefs, currentCursor).frame,
      flow: FiberRefs.getOrDefault(runtime.fiberRefs, currentFlow),
      signal: FiberRefs.getOrDefault(runtime.fiberRefs, currentSignal),
      runtime
    }
    return Effect.tryPromise({ try: () => storage.run(store, async () => f()), catch: (error) => error })
  })

/**
 * Runs an Effect from Promise code, inside the frame and flow of the Effect
 * that called that code (if any). Rejects with the failure itself, not a
 * wrapper, so Promise callers see the errors they threw.
 *
 * @internal
 */
export const toPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => {
  const store = storage.getStore()
  const program = store === undefined ? effect : effect.pipe(
    Effect.locally(currentCursor, { frame: store.frame }),
    Effect.locally(currentFlow, store.flow),
    Effect.locally(currentSignal, store.signal)
  )
  return Runtime.runPromiseExit(store?.runtime ?? Runtime.defaultRuntime)(
    program,
    store?.signal === undefined ? undefined : { signal: store.signal }
  ).then((exit) => Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause)))
}
