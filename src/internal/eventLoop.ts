/**
 * Keeping time under synchronous bursts. A run whose commits complete
 * synchronously (memory, SQLite) never waits for I/O, and Effect's scheduler
 * yields to Node's timers only after millions of operations: a burst of
 * commits in one step (100,000 chunks) would hold every timer back, lease
 * renewals included. The interpreter asks `overdue` every few commits and,
 * when a burst has gone on for a while, yields to the event loop.
 */
import * as Effect from "effect/Effect"

/** How long synchronous work may go on before timers get their turn, in ms. */
const SLICE = 10

let sliceStarted = performance.now()
/** A turn of the event loop asked for (by `overdue`) and not come yet. */
let turnAsked = false

/**
 * Whether work has held the event loop for longer than a slice. Past a slice, it first asks for a turn of
 * the loop and answers no: where commits wait for I/O (PostgreSQL), the loop turns anyway and the slice
 * starts again there, so nothing yields for it; only work that keeps the loop from turning (synchronous
 * commits, or commits stored on microtasks) is then told to yield, at its next check.
 */
export const overdue = (): boolean => {
  if (performance.now() - sliceStarted <= SLICE) return false
  if (turnAsked) return true
  turnAsked = true
  setImmediate(() => {
    turnAsked = false
    sliceStarted = performance.now()
  })
  return false
}

/**
 * Lets the event loop run its due timers and I/O, then goes on. Through
 * `setImmediate`: it costs no timer delay, and the loop passes its timers
 * phase before it comes back a second time (a burst yields every slice). Not
 * through the Effect `Clock`: a `TestClock` must not hold it.
 */
export const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => {
    sliceStarted = performance.now()
    resume(Effect.void)
  })
  return Effect.sync(() => clearImmediate(immediate))
})
