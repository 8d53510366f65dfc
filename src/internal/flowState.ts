import type * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"

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
