/**
 * Where in a workflow body a fiber is. Journal keys are positions: the n-th
 * journaled operation of the root is "n", of the step at "n" is "n.0",
 * "n.1"... Concurrent branches get frames of their own, so keys do not depend
 * on scheduling.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type { Instance } from "./instance.js"

export interface Frame {
  readonly instance: Instance
  readonly path: string
  next: number
  readonly inStep: boolean
}

/**
 * The current frame, held in a per-fiber mutable cursor: each forked fiber
 * gets a cursor of its own (`fork`), and a child's cursor never flows back
 * into its parent (`join`). A step moves the cursor in and out by assignment,
 * which is much cheaper than `FiberRef.set`/`Effect.locally` on the hot path.
 */
export interface Cursor {
  frame: Frame | undefined
}

export const currentCursor = FiberRef.unsafeMake<Cursor>({ frame: undefined }, {
  fork: (parent) => ({ frame: parent.frame }),
  join: (parent) => parent
})

/** The cursor a run's body starts with. */
export const rootCursor = (instance: Instance): Cursor => ({
  frame: { instance, path: "", next: 0, inStep: false }
})

/** The key of the frame's next position, without taking it. */
export const peekKey = (frame: Frame): string => frame.path === "" ? String(frame.next) : `${frame.path}.${frame.next}`

/** The next key of a frame. */
export const nextKey = (frame: Frame): string => {
  const key = peekKey(frame)
  frame.next++
  return key
}

/**
 * The frame of the running workflow, for operations that only make sense
 * inside one.
 */
export const withFrame = <A, E, R>(
  operation: string,
  f: (frame: Frame, cursor: Cursor) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  FiberRef.getWith(currentCursor, (cursor) =>
    cursor.frame === undefined
      ? Effect.dieMessage(`${operation} can only be used inside a running workflow`)
      : f(cursor.frame, cursor))
