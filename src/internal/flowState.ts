import { FiberRef } from "effect"
import type { Deferred, Effect } from "effect"

/** What one root flow shares with every task below it. */
export interface FlowRoot {
  readonly cache: Map<string, Deferred.Deferred<any, any>>
  /** The permits of each named queue. */
  readonly queues: Map<string, Effect.Semaphore>
  /** Tasks pushed per queue and enclosing task path: sequential within one path, so stable on replay. */
  readonly pushed: Map<string, number>
}

export interface FlowState {
  readonly path: string
  readonly root: FlowRoot
}

/** The flow a fiber runs in, if any. */
export const currentFlow = FiberRef.unsafeMake<FlowState | undefined>(undefined)
