/**
 * What a `WorkflowService` handle's `stream()` returns: the execution's events
 * as an `AsyncIterable` and as an emitter.
 *
 * @since 0.2.0
 */
import type { StoredEvent } from "../WorkflowEvent.js"

type Events = "event" | "end" | "error"
type Listener = (value: any) => void

/**
 * What `handle.stream()` returns: an `AsyncIterable` of the execution's events
 * and an emitter of `event`, `end` (with the result) and `error`. Each call of
 * `stream()` replays from the first event; listeners attached in the same tick
 * all see every event.
 *
 * @since 0.1.0
 * @category models
 */
export class WorkflowEventStream implements AsyncIterable<StoredEvent> {
  private readonly listeners: Record<Events, Set<Listener>> = { event: new Set(), end: new Set(), error: new Set() }
  private pumping = false

  constructor(
    private readonly open: () => AsyncIterable<StoredEvent>,
    private readonly outcome: () => Promise<unknown>
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    return this.open()[Symbol.asyncIterator]()
  }

  on(name: Events, listener: Listener): this {
    this.listeners[name].add(listener)
    this.pump()
    return this
  }

  addListener(name: Events, listener: Listener): this {
    return this.on(name, listener)
  }

  once(name: Events, listener: Listener): this {
    const wrapper: Listener = (value) => {
      this.listeners[name].delete(wrapper)
      listener(value)
    }
    return this.on(name, wrapper)
  }

  off(name: Events, listener: Listener): this {
    this.listeners[name].delete(listener)
    return this
  }

  removeListener(name: Events, listener: Listener): this {
    return this.off(name, listener)
  }

  private emit(name: Events, value: unknown): void {
    for (const listener of [...this.listeners[name]]) listener(value)
  }

  /** Starts reading on the next microtask, so every listener attached now sees the first event. */
  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    queueMicrotask(async () => {
      // Asked for at once: a result known before the service stops still reaches `end` after it.
      const outcome = this.outcome()
      outcome.catch(() => undefined) // awaited below; a failure before then is not unhandled
      try {
        for await (const event of this.open()) this.emit("event", event)
        this.emit("end", await outcome)
      } catch (error) {
        // Reported to "error" listeners only: an unobserved failure never becomes an unhandled rejection.
        this.emit("error", error)
      }
    })
  }
}
