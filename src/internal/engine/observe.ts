/**
 * Watching executions: their event streams (stored events first, then live
 * ones), their results and handles.
 */
import { Chunk, Effect, Either, Option, Schema, Stream } from "effect"
import type { Duration } from "effect"
import type { ExecutionNotFound, ExecutionStorageService } from "../../ExecutionStorage.js"
import type { StorageFailure, WorkflowHandle } from "../../WorkflowEngine.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import { errorInfo, issuesOf } from "../errorInfo.js"
import type { Signals } from "../notifier.js"
import { isTerminal } from "../storage/service.js"
import { InvalidOutput } from "../workflowErrors.js"
import type { InvalidOption } from "./errors.js"
import { positiveInteger, WorkflowCancelled, WorkflowFailed } from "./errors.js"
import { retrying } from "./reads.js"
import type { Registry } from "./registry.js"

export interface ObserveOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  readonly registry: Registry
  /** Events read per page by each subscriber. */
  readonly pageSize: number
  /** How often a waiting subscriber re-reads storage, for commits made by other processes. */
  readonly poll: Duration.Duration
}

export const make = ({ pageSize, poll, registry, signals, storage: given }: ObserveOptions) => {
  // Every read below is retried (see reads.ts).
  const storage = retrying(given)
  const events = (id: string, options?: { readonly fromSeq?: number }) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      let cursor = yield* positiveInteger("fromSeq", options?.fromSeq ?? 1)
      yield* storage.get(id)
      const signal = yield* signals.acquire(id)
      const pull: Effect.Effect<
        Chunk.Chunk<StoredEvent>,
        Option.Option<ExecutionNotFound | StorageFailure | InvalidOption>
      > = Effect.suspend(() => {
        const seen = signal.version
        return Effect.flatMap(
          Effect.mapError(storage.events(id, { fromSeq: cursor, limit: pageSize }), Option.some),
          (page) => {
            if (page.length > 0) {
              cursor = page[page.length - 1]!.seq + 1
              return Effect.succeed(Chunk.unsafeFromArray(page))
            }
            return Effect.flatMap(Effect.mapError(storage.get(id), Option.some), (record) => {
              if (record.lastSeq >= cursor) return pull
              if (isTerminal(record.status)) return Effect.fail(Option.none())
              // Caught up with a run here that storage stopped: nothing more will come; say why.
              const stopped = signals.stoppedWith(id)
              if (stopped !== undefined) return Effect.fail(Option.some(stopped))
              return Effect.zipRight(signal.wait(seen, poll), pull)
            })
          }
        )
      })
      return Stream.repeatEffectChunkOption(pull)
    }))

  /** The result; with `error`, a typed failure stored encoded with it fails decoded. */
  const result = (id: string, error?: Schema.Schema<any, any>) =>
    Effect.scoped(Effect.gen(function*() {
      const signal = yield* signals.acquire(id)
      while (true) {
        const record = yield* storage.get(id)
        switch (record.status) {
          case "completed": {
            const definition = registry.get(record.workflow)
            if (definition === undefined) return record.output
            const decoded = Schema.decodeUnknownEither(definition.workflow.output)(record.output)
            if (Either.isRight(decoded)) return decoded.right
            return yield* new WorkflowFailed({
              executionId: id,
              error: errorInfo(new InvalidOutput({ workflow: record.workflow, issues: issuesOf(decoded.left) }))
            })
          }
          case "failed": {
            const stored = record.error ?? { name: "Error", message: "unknown error" }
            if (error !== undefined && stored.failure !== undefined) {
              const decoded = Schema.decodeUnknownEither(error)(stored.failure)
              if (Either.isRight(decoded)) return yield* Effect.fail(decoded.right)
            }
            return yield* new WorkflowFailed({ executionId: id, error: stored })
          }
          case "cancelled":
            return yield* new WorkflowCancelled({ executionId: id })
        }
        // Only the end matters here: woken when this process stores it, else by the poll.
        yield* signal.waitFinished(poll)
      }
    }))

  const handle = <A, E = never>(
    id: string,
    workflow: string,
    created: boolean,
    cancel: WorkflowHandle["cancel"],
    error?: Schema.Schema<E, any>
  ): WorkflowHandle<A, E> => ({
    id,
    workflow,
    created,
    events: Stream.catchTag(events(id), "InvalidOption", Stream.die), // from seq 1: always valid
    result: result(id, error) as Effect.Effect<A, any>,
    status: given.get(id),
    cancel
  })

  return { events, result: (id: string) => result(id), handle }
}
