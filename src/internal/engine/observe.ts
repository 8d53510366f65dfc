/**
 * Watching executions: their event streams (stored events first, then live
 * ones), their results and handles.
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  ExecutionNotFound,
  ExecutionRecord,
  ExecutionStorageService,
  StorageError
} from "../../ExecutionStorage.js"
import type { StorageFailure, WorkflowHandle } from "../../WorkflowEngine.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import { errorInfo, issuesOf } from "../errorInfo.js"
import type { Signal, Signals } from "../notifier.js"
import { freeze, thaw } from "../storage/payload.js"
import { isTerminal } from "../storage/service.js"
import { InvalidOutput } from "../workflowErrors.js"
import { positiveInteger, WorkflowCancelled, WorkflowFailed } from "./errors.js"
import { logShort, retrying, shortLogCheck } from "./reads.js"
import type { Registry } from "./registry.js"
import type { End, Run } from "./run.js"
import type { Tail, Tails } from "./tail.js"

export interface ObserveOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  readonly registry: Registry
  /** The executions' shared tails in this process. */
  readonly tails: Tails
  /** Events read per page by a subscriber reading on its own. */
  readonly pageSize: number
  /** How often a subscriber waiting on its own re-reads storage, for commits made by other processes. */
  readonly poll: Duration.Duration
  /**
   * Waits for the run of an execution going on in this process to end, with the end it stored, if any;
   * undefined when none is.
   */
  readonly runEnded: (id: string) => Effect.Effect<End | undefined> | undefined
}

/** A handle's stream starts at the first event. */
const fromFirst = Effect.succeed(1)

/** A follower's events: chunks of them out, then done once all are read and the execution ended (or a failure). */
type Follower = Channel.Channel<
  Chunk.Chunk<StoredEvent>,
  unknown,
  ExecutionNotFound | StorageFailure,
  unknown,
  void,
  unknown
>

/**
 * What a read of the execution says of its result: undefined while it is unfinished. With `error`, a typed
 * failure stored encoded with it fails decoded.
 */
const settled = (
  registry: Registry,
  id: string,
  record: Pick<ExecutionRecord, "status" | "workflow" | "output" | "error">,
  error: Schema.Schema<any, any> | undefined
) => {
  switch (record.status) {
    case "completed": {
      const definition = registry.get(record.workflow)
      if (definition === undefined) return Effect.succeed(record.output)
      const decoded = Schema.decodeUnknownEither(definition.workflow.output)(record.output)
      if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
      return new WorkflowFailed({
        executionId: id,
        error: errorInfo(new InvalidOutput({ workflow: record.workflow, issues: issuesOf(decoded.left) }))
      })
    }
    case "failed": {
      const stored = record.error ?? { name: "Error", message: "unknown error" }
      if (error !== undefined && stored.failure !== undefined) {
        const decoded = Schema.decodeUnknownEither(error)(stored.failure)
        if (Either.isRight(decoded)) return Effect.fail(decoded.right)
      }
      return new WorkflowFailed({ executionId: id, error: stored })
    }
    case "cancelled":
      return new WorkflowCancelled({ executionId: id })
  }
  return undefined
}

export const make = ({ pageSize, poll, registry, runEnded, signals, storage: given, tails }: ObserveOptions) => {
  // Every read below is retried (see reads.ts).
  const storage = retrying(given)

  /**
   * The events of `id` from `from` on: taken from the execution's shared tail while its window holds them;
   * read from storage, a page at a time, by this follower alone while it is behind the window (or has no
   * tail, or its tail's reader is gone); ended, or failed, once everything stored is read and the execution
   * ended, or its run here stopped. Written as a channel, not as a pull: events at hand are written out
   * without an Effect, so a follower costs an Effect only when it reads or waits.
   */
  const follow = (id: string, from: number, tail: Tail | undefined, scope: Scope.Scope): Follower => {
    let cursor = from
    const emit = (events: ReadonlyArray<StoredEvent>): Follower => {
      cursor = events[events.length - 1]!.seq + 1
      return Channel.zipRight(Channel.write(Chunk.unsafeFromArray(events)), next)
    }
    const after = (wait: Effect.Effect<void>): Follower => Channel.zipRight(Channel.fromEffect(wait), next)
    // The execution's signal, held (for the rest of the stream) from the first read of its own: a follower
    // served by its tail never needs it. Hints of other processes' commits, only once it would wait: a
    // follower reading a finished execution's log through never asks for them.
    let signal: Signal | undefined
    let hinted = !signals.hintsFollowed
    const short = shortLogCheck()
    /** Reads up to `limit` events from storage; when there are none, waits for more, or ends. */
    const read = (limit: number): Follower =>
      Channel.unwrap(
        signal === undefined
          ? Effect.flatMap(Scope.extend(signals.acquire(id), scope), (acquired) => {
            signal = acquired
            return readWith(acquired, limit)
          })
          : readWith(signal, limit)
      )
    const readWith = (signal: Signal, limit: number): Effect.Effect<Follower, ExecutionNotFound | StorageError> => {
      const seen = signal.version
      return Effect.flatMap(storage.events(id, { fromSeq: cursor, limit }), (page) => {
        // Read-only, as the events taken from a tail are (and as the memory storage keeps them).
        if (page.length > 0) return Effect.succeed(emit(page.map(freeze)))
        return Effect.map(storage.get(id), (record) => {
          // Stored since the read (read again), or never to be read (a log short of its record: fail).
          if (record.lastSeq >= cursor) return short(cursor) ? Channel.fail(logShort(id, cursor, record.lastSeq)) : next
          if (isTerminal(record.status)) return Channel.void
          // Caught up with a run here that storage stopped: nothing more will come; say why.
          const stopped = signals.stoppedWith(id)
          if (stopped !== undefined) return Channel.fail(stopped)
          if (!hinted) {
            hinted = true
            // Heard from now on: what was committed before is read again, rather than waited for.
            return after(Scope.extend(signals.hinted(id), scope))
          }
          return after(signal.wait(seen, poll))
        })
      })
    }
    const next: Follower = Channel.suspend(() => {
      if (tail === undefined || tail.closed) return read(pageSize)
      const shared = tail.take(cursor, pageSize)
      if (shared !== undefined) return emit(shared)
      // Behind the window: read on our own, up to where it starts.
      if (cursor < tail.start) return read(Math.min(pageSize, tail.start - cursor))
      // Caught up with the tail: whatever comes next, its reader reads.
      if (tail.ended) return Channel.void
      const stopped = tail.stopped
      if (stopped !== undefined && stopped === signals.stoppedWith(id)) return Channel.fail(stopped)
      return after(tail.changed.wait(tail.changed.version, undefined))
    })
    return next
  }

  /** Follows `id` from `from`, holding its tail (and its signal, once needed) in `scope`. */
  const attach = (id: string, from: number, scope: Scope.Scope): Follower =>
    Channel.unwrap(Effect.flatMap(Scope.extend(tails.acquire(id), scope), (tail) => {
      const following = follow(id, from, tail, scope)
      // Without a tail (its reader could not start: no such execution, storage failing), this follower reads
      // on its own, once it has found the execution.
      return tail === undefined ? Effect.as(storage.get(id), following) : Effect.succeed(following)
    }))

  /** The events of `id` from the seq `from` gives, in a scope of the stream's own, closed as it ends. */
  const eventsFrom = <E>(
    id: string,
    from: Effect.Effect<number, E>
  ): Stream.Stream<StoredEvent, E | ExecutionNotFound | StorageFailure> =>
    Stream.fromChannel(
      Channel.unwrap(Effect.zipWith(from, Scope.make(), (from, scope) =>
        Channel.ensuringWith(attach(id, from, scope), (exit) =>
          Scope.close(scope, exit))))
    )

  const events = (id: string, options?: { readonly fromSeq?: number }) =>
    eventsFrom(id, positiveInteger("fromSeq", options?.fromSeq ?? 1))

  /** A stored end, as a read of the execution would give it: output and error as copies of their own. */
  const asRead = ({ commit, workflow }: End): Pick<ExecutionRecord, "status" | "workflow" | "output" | "error"> => ({
    status: commit.status!,
    workflow,
    output: thaw(commit.output),
    ...(commit.error !== undefined ? { error: thaw(commit.error) } : {})
  })

  /** The result, awaited on the execution's signal (held meanwhile) until storage says it has ended. */
  const awaited = (id: string, error: Schema.Schema<any, any> | undefined) =>
    Effect.scoped(Effect.gen(function*() {
      const signal = yield* signals.acquire(id)
      let hinted = !signals.hintsFollowed
      while (true) {
        const here = runEnded(id)
        const end = here === undefined ? undefined : yield* here
        const found = settled(registry, id, end === undefined ? yield* storage.get(id) : asRead(end), error)
        if (found !== undefined) return yield* found
        if (here !== undefined) continue
        // Not ended, and not running here: its end is hinted from now on, and storage asked again first.
        if (!hinted) {
          hinted = true
          // Its end only: its steps need not be hinted (on PostgreSQL they then notify nobody).
          yield* signals.hinted(id, { endsOnly: true })
          continue
        }
        // Only the end matters here: woken when this process stores it, else by the poll.
        yield* signal.waitFinished(poll)
      }
    }))

  /**
   * The result. A run here is awaited as it ends (no timer, no read, no signal held), and the end it stored
   * is the result, read as storage would give it back; otherwise (or if it stored none) storage says. The
   * run a handle's start launched is asked first: it may have stored its end and gone before the result
   * is asked (a quick run on a storage that writes at once), and its end is final.
   */
  const result = (id: string, error?: Schema.Schema<any, any>, launched?: Run) =>
    Effect.suspend(() => {
      const stored = launched?.end
      const known = stored === undefined ? undefined : settled(registry, id, asRead(stored), error)
      if (known !== undefined) return known
      const here = runEnded(id)
      if (here === undefined) return awaited(id, error)
      return Effect.flatMap(here, (end) =>
        (end === undefined ? undefined : settled(registry, id, asRead(end), error)) ?? awaited(id, error))
    })

  const handle = <A, E = never>(
    id: string,
    workflow: string,
    created: boolean,
    cancel: WorkflowHandle["cancel"],
    error?: Schema.Schema<E, any>,
    /** The run this handle's start launched here, if any. */
    launched?: Run
  ): WorkflowHandle<A, E> => ({
    id,
    workflow,
    created,
    // Described when used: most handles are only awaited.
    events: Stream.suspend(() => eventsFrom(id, fromFirst)),
    result: result(id, error, launched) as Effect.Effect<A, any>,
    status: Effect.suspend(() => given.get(id)),
    cancel
  })

  return { events, result: (id: string) => result(id), handle }
}
