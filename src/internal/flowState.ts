import { FiberRef } from "effect"
import type { Deferred, Effect } from "effect"

/** What one root flow shares with every task below it. @internal */
export interface FlowRoot {
  readonly cache: Map<string, Deferred.Deferred<any, any>>
  readonly queues: Map<string, { readonly permits: Effect.Semaphore; pushed: number }>
}

/** @internal */
export interface FlowState {
  readonly path: string
  readonly root: FlowRoot
}

/** The flow a fiber runs in, if any. @internal */
export const currentFlow = FiberRef.unsafeMake<FlowState | undefined>(undefined)
