/**
 * The shared tail of an execution's event log. While anyone in this process
 * follows an execution, one reader reads its new events from storage, once,
 * into a bounded window; every follower that has caught up takes its events
 * from there instead of reading storage itself. A follower behind the window
 * (a slow consumer, a replay from an old seq) reads storage on its own.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import type { ExecutionNotFound, ExecutionStorageService, StorageError } from "../../ExecutionStorage.js"
import type { StorageFailure } from "../../WorkflowEngine.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import type { Signals } from "../notifier.js"
import { Signal } from "../notifier.js"
import { freeze } from "../storage/payload.js"
import { isEndEvent, isTerminal } from "../storage/service.js"
import type { Reads } from "./reads.js"
import { logShort, retrying, shortLogCheck } from "./reads.js"

/**
 * What the reader of one execution has read. Everything below `next` is stored; the window holds the last
 * of it, from `start`: between `capacity` and twice that many events once full, however far behind a
 * follower is.
 */
export class Tail {
  private events: Array<StoredEvent> = []
  /** The seq of the window's first event. */
  start: number
  /** The seq after the last event read. */
  next: number
  /** The execution ended, and every event it has is below `next`. */
  ended = false
  /** The reader is gone (it failed, or the engine closed): followers read storage on their own. */
  closed = false
  /**
   * The failure that stopped the run of the execution in this process, as the reader found it when, having
   * read everything stored, it found the execution unfinished.
   */
  stopped: StorageFailure | undefined = undefined
  /** Moves on whenever any of the above changes. */
  readonly changed = new Signal()

  constructor(from: number, readonly capacity: number) {
    this.start = from
    this.next = from
  }

  /** How many events the window holds. */
  get size(): number {
    return this.events.length
  }

  /** Up to `limit` events from `seq` on, when the window holds `seq`. */
  take(seq: number, limit: number): Array<StoredEvent> | undefined {
    if (seq < this.start || seq >= this.next) return undefined
    const from = seq - this.start
    return this.events.slice(from, from + limit)
  }

  /** A page read from `next` on, frozen: its events are shared by every follower taking them. */
  append(page: ReadonlyArray<StoredEvent>): void {
    for (const event of page) this.events.push(freeze(event))
    this.next = page[page.length - 1]!.seq + 1
    if (this.events.length > 2 * this.capacity) {
      const dropped = this.events.length - this.capacity
      this.events = this.events.slice(dropped)
      this.start += dropped
    }
    this.changed.notify()
  }

  end(): void {
    this.ended = true
    this.changed.notify()
  }

  close(): void {
    this.closed = true
    this.changed.notify()
  }

  /** The reader, caught up with an unfinished execution, found its run here stopped on `failure` (or not). */
  heard(failure: StorageFailure | undefined): void {
    if (failure === this.stopped) return
    this.stopped = failure
    this.changed.notify()
  }
}

interface ReaderOptions {
  readonly reads: Reads
  readonly signals: Signals
  readonly pageSize: number
  readonly poll: Duration.Duration
}

/** Whether the page's last event is one an execution's end stores. */
const endsWith = (page: ReadonlyArray<StoredEvent>): boolean => isEndEvent(page[page.length - 1]!.type)

/**
 * Reads the execution's new events into `tail` as they are committed (woken by this process's commits, or
 * every `poll` for other processes'), until it ends. Each read is what a lone follower would make.
 *
 * Woken by a commit here, the reader reads its events and waits again: a page short of a full one holds
 * everything stored when the read began, and a later commit moves the signal. Otherwise it reads until a
 * page is empty and then asks storage for the execution, whose record alone says it has ended elsewhere
 * (or before the signal was there): on its first read, on a wake by the poll, on a wake asking for a full
 * look (`Signal.checks`: an end or a stop told here, hints lost), and on a page that ends with an end's
 * event (stored elsewhere, perhaps, and not hinted here).
 */
const keepReading = (id: string, tail: Tail, signal: Signal, { pageSize, poll, reads, signals }: ReaderOptions) => {
  const short = shortLogCheck()
  /** `checked`: `signal.checks` as the previous read saw it; a move since asks for a look, whenever it came. */
  const read = (look: boolean, checked: number): Effect.Effect<void, ExecutionNotFound | StorageError> =>
    Effect.suspend(() => {
      const seen = signal.version
      const checks = signal.checks
      const looking = look || checks !== checked
      return Effect.flatMap(reads.events(id, { fromSeq: tail.next, limit: pageSize }), (page) => {
        if (page.length > 0) {
          tail.append(page)
          const caughtUp = page.length < pageSize && !looking && !signal.finished && !endsWith(page)
          return caughtUp ? waitFrom(seen, checks) : read(looking || endsWith(page), checks)
        }
        return Effect.flatMap(reads.get(id), (record) => {
          if (record.lastSeq >= tail.next) {
            // Stored since the read (read again), or never to be read (a log short of its record: fail).
            if (short(tail.next)) return Effect.fail(logShort(id, tail.next, record.lastSeq))
            return read(looking || isTerminal(record.status), checks)
          }
          if (isTerminal(record.status)) return Effect.sync(() => tail.end())
          tail.heard(signals.stoppedWith(id))
          return waitFrom(seen, checks)
        })
      })
    })
  /** Waits for the signal to move on from `seen`, or the poll; then reads, looking unless a commit woke it. */
  const waitFrom = (seen: number, checks: number) =>
    Effect.zipRight(signal.wait(seen, poll), Effect.suspend(() => read(signal.version === seen, checks)))
  return read(true, signal.checks)
}

export interface TailsOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  /** Events per read, and the window's capacity. */
  readonly pageSize: number
  readonly poll: Duration.Duration
}

/**
 * The tails of the executions followed in this process, one per execution, each kept while a follower holds
 * it: the last to leave stops its reader, and so does closing the engine's scope.
 */
export const make = ({ pageSize, poll, signals, storage }: TailsOptions) =>
  Effect.gen(function*() {
    const options: ReaderOptions = { reads: retrying(storage), signals, pageSize, poll }
    const tails: RcMap.RcMap<string, Tail, ExecutionNotFound | StorageError> = yield* RcMap.make({
      lookup: (id: string) =>
        Effect.gen(function*() {
          const record = yield* options.reads.get(id)
          if (isTerminal(record.status)) {
            // Finished: every event is stored, and nothing follows. Its followers read on their own, and end.
            const finished = new Tail(record.lastSeq + 1, pageSize)
            finished.end()
            return finished
          }
          // The window starts with the last page stored: followers that start with the run, or shortly
          // after, share even the reads of what they missed.
          const tail = new Tail(Math.max(1, record.lastSeq + 1 - pageSize), pageSize)
          const signal = yield* signals.watch(id)
          yield* Effect.addFinalizer(() => Effect.sync(() => tail.close()))
          yield* keepReading(id, tail, signal, options).pipe(
            // A reader that fails leaves its followers to read on their own, as they would have without it
            // (each retrying, and failing, as its own reads do); the next follower to come gets a new tail.
            Effect.tapErrorCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.void
                : Effect.zipRight(Effect.sync(() => tail.close()), RcMap.invalidate(tails, id))
            ),
            Effect.forkScoped
          )
          return tail
        })
    })
    /**
     * The execution's tail, held until the scope closes; none (the follower reads on its own) when it could
     * not be set up or the engine is closed.
     */
    const acquire = (id: string): Effect.Effect<Tail | undefined, never, Scope.Scope> =>
      Effect.catchAllCause(
        RcMap.get(tails, id),
        (cause) => Cause.isDie(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.succeed(undefined)
      )
    return { acquire }
  })

export type Tails = Effect.Effect.Success<ReturnType<typeof make>>
