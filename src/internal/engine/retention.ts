/**
 * Retention: deleting finished executions, on demand (`purge`) or on a
 * schedule (`EngineOptions.retention`).
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import type { FinishedStatus, PurgeOptions } from "../../WorkflowEngine.js"
import { InvalidOption, positiveDuration, positiveInteger } from "./errors.js"

const finished: ReadonlyArray<FinishedStatus> = ["completed", "failed", "cancelled"]

/** The options checked: each bad one an `InvalidOption` naming it. */
const checked = (options: PurgeOptions) =>
  Effect.gen(function*() {
    // (A negative number of ms decodes as zero: refused before.)
    const given = options.olderThan
    const age = typeof given === "number" && !(given >= 0) ? Option.none() : Duration.decodeUnknown(given)
    if (Option.isNone(age)) {
      return yield* new InvalidOption({
        option: "olderThan",
        value: String(options.olderThan),
        expected: "a duration of 0 or more"
      })
    }
    const statuses = options.status === undefined ? finished : [options.status].flat()
    const wrong = statuses.find((status) => !finished.includes(status))
    if (wrong !== undefined) {
      return yield* new InvalidOption({
        option: "status",
        value: JSON.stringify(wrong),
        expected: `finished statuses only (${finished.join(", ")}): unfinished executions are never purged`
      })
    }
    const batchSize = yield* positiveInteger("batchSize", options.batchSize ?? 500)
    return { age: Duration.toMillis(age.value), statuses, batchSize }
  })

export const make = (storage: ExecutionStorageService, clock: Clock.Clock) => {
  const purge = (options: PurgeOptions) =>
    Effect.gen(function*() {
      const { age, batchSize, statuses } = yield* checked(options)
      const { purge: purgeBatch } = storage
      if (purgeBatch === undefined) return 0
      const before = clock.unsafeCurrentTimeMillis() - age
      let total = 0
      while (true) {
        const deleted = yield* purgeBatch({
          before,
          statuses,
          limit: batchSize,
          ...(options.workflow !== undefined ? { workflow: options.workflow } : {})
        })
        total += deleted
        if (deleted < batchSize) return total
      }
    }).pipe(Effect.withSpan("WorkflowEngine.purge"))

  /** Purges every `every` (default 1 hour) while the engine lasts; a failed round is logged, not fatal. */
  const keepPurging = (retention: PurgeOptions & { readonly every?: Duration.DurationInput }) =>
    Effect.gen(function*() {
      yield* checked(retention)
      const every = yield* positiveDuration("retention.every", retention.every ?? "1 hour")
      yield* purge(retention).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("Purging finished executions failed", cause)),
        Effect.repeat(Schedule.spaced(every)),
        Effect.forkScoped
      )
    })

  return { purge, keepPurging } as const
}
