/**
 * The one way in to the journal interpreter: the operations a workflow body,
 * `Flow` and the Promise facade reach it through, each at the current frame
 * of the calling fiber (see cursor.ts).
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { Any as AnyWorkflow, ApprovalAnswer, ApprovalRequest, StepOptions } from "../Workflow.js"
import type { EventDraft } from "../WorkflowEvent.js"
import type { Cursor } from "./cursor.js"
import { nextKey, withFrame } from "./cursor.js"
import type { Shown } from "./waits.js"
import type { ChildNotStarted, StepTimeout } from "./workflowErrors.js"

/** A durable step at the next position of the current frame. */
export const step = <A, E, R>(
  operation: string,
  name: string,
  effect: Effect.Effect<A, E, R>,
  options?: StepOptions<A, E, R>
): Effect.Effect<A, E | StepTimeout, R> =>
  withFrame(operation, (frame, cursor) => frame.instance.step(frame, cursor, nextKey(frame), name, effect, options))

/** A durable step at a key allocated beforehand (see `branchKeys`). */
export const stepAt = <A, E, R>(
  operation: string,
  key: string,
  name: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | StepTimeout, R> =>
  withFrame(operation, (frame, cursor) => frame.instance.step(frame, cursor, key, name, effect))

/** Emits an event into the log of the running execution. */
export const emit = (operation: string, draft: EventDraft): Effect.Effect<void> =>
  withFrame(operation, (frame) => frame.instance.emit(frame, draft))

/** A durable sleep until `wakeAt(now)`. */
export const sleep = (operation: string, wakeAt: (now: number) => number): Effect.Effect<void> =>
  withFrame(operation, (frame) => frame.instance.sleep(frame, wakeAt))

/** Receives a signal named `name`, waiting for it durably (until `timeoutAt(now)`, if given). */
export const signal = (
  operation: string,
  name: string,
  accept: (payload: unknown) => string | undefined,
  timeoutAt: ((now: number) => number) | undefined,
  shown?: Shown
): Effect.Effect<Option.Option<unknown>> =>
  withFrame(operation, (frame) => frame.instance.signal(frame, name, accept, timeoutAt, shown))

/** Whether the execution takes the patch `id` (see `Instance.patched`). */
export const patched = (operation: string, id: string): Effect.Effect<boolean> =>
  withFrame(operation, (frame) => frame.instance.patched(frame, id))

/** Starts a child execution, once per position (see `Instance.startChild`). */
export const startChild = (
  operation: string,
  workflow: AnyWorkflow | string,
  input: unknown,
  id: string | undefined
): Effect.Effect<string, ChildNotStarted> =>
  withFrame(operation, (frame) => frame.instance.startChild(frame, workflow, input, id))

/** Asks for an approval; suspends the execution until it is answered. */
export const approval = (operation: string, request: ApprovalRequest): Effect.Effect<ApprovalAnswer> =>
  withFrame(operation, (frame) => frame.instance.approval(frame, request))

/**
 * The journal keys of `count` concurrent branches, allocated in order before any of them starts, or
 * undefined outside a running workflow.
 */
export const branchKeys = (cursor: Cursor, count: number): ReadonlyArray<string> | undefined => {
  const frame = cursor.frame
  return frame === undefined ? undefined : Array.from({ length: count }, () => nextKey(frame))
}
