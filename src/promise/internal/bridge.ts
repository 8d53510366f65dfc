/**
 * The bridge between the Promise facade and the Effect core. Promise code
 * called from an Effect (a Runnable's generator, a task function) sees the
 * workflow location (execution, journal position, flow) and the abort signal
 * of the fiber that called it, through AsyncLocalStorage; Promise helpers
 * called from there run their Effects at that location again.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Runtime from "effect/Runtime"
import { AsyncLocalStorage } from "node:async_hooks"
import * as Workflow from "../../Workflow.js"
import * as Logging from "./logger.js"

interface Store {
  readonly location: Workflow.Location
  readonly signal: AbortSignal | undefined
  readonly runtime: Runtime.Runtime<never>
}

const storage = new AsyncLocalStorage<Store>()

/** The abort signal of the running Runnable, aborted when its run is interrupted. */
export const currentSignal = FiberRef.unsafeMake<AbortSignal | undefined>(undefined)

/**
 * Runs a Promise function as an Effect; its failure is what it threw. An interruption it passed on (a body
 * operation it awaited suspended the execution, see `toPromise`) interrupts here too: the run suspends,
 * rather than failing with it.
 */
export const fromPromise = <A>(f: () => PromiseLike<A> | A): Effect.Effect<A, unknown> =>
  Effect.flatMap(
    Effect.all([Workflow.location, FiberRef.get(currentSignal), Effect.runtime<never>()]),
    ([location, signal, runtime]) =>
      Effect.catchIf(
        Effect.tryPromise({ try: () => storage.run({ location, signal, runtime }, async () => f()), catch: (e) => e }),
        Cause.isInterruptedException,
        () => Effect.interrupt
      )
  )

/**
 * `effect` at the workflow location of the Effect that called the Promise
 * code running now, if any: what `engine.start` reads to record a parent.
 */
export const atCallerLocation = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const store = storage.getStore()
  return store === undefined ? effect : Workflow.atLocation(store.location)(effect)
}

/**
 * Runs an Effect from Promise code, at the location of the Effect that called
 * that code (if any), in its runtime (a service's logger included). Called
 * from elsewhere, it logs nowhere. Rejects with the failure itself, not a
 * wrapper, so Promise callers see the errors they threw.
 */
export const toPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => {
  const store = storage.getStore()
  const program = store === undefined
    ? Effect.provide(effect, Logging.quiet)
    : effect.pipe(Workflow.atLocation(store.location), Effect.locally(currentSignal, store.signal))
  return Runtime.runPromiseExit(store?.runtime ?? Runtime.defaultRuntime)(
    program,
    store?.signal === undefined ? undefined : { signal: store.signal }
  ).then((exit) => Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause)))
}
