/**
 * The queues an engine works as a worker: for each, a loop that claims
 * queued executions (within the queue's stored limits and this worker's
 * own) and runs them here, then waits until something may have made room or
 * work: a start here, a run's end here, another process's start or end (the
 * storage's hints), the rate limit's next opening, or at most `poll` (10 s
 * where the storage hints: then polling is only the fallback).
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { ExecutionStorageService, QueueClaimed } from "../../ExecutionStorage.js"
import type { QueueOptions } from "../../WorkflowEngine.js"
import { Signal } from "../notifier.js"
import { InvalidOption, positiveDuration, positiveInteger, storableId } from "./errors.js"
import type { Registry } from "./registry.js"
import type { Runs } from "./runs.js"

/** At most this many executions claimed by one statement. */
const CLAIM_BATCH = 100

export interface Workers {
  /** Something may have made room or work in `queue` (undefined: in any queue): its loop looks again. */
  readonly wake: (queue?: string) => void
  /**
   * An execution ended somewhere, in a queue the hint does not name: only the loops of queues with a
   * fleet-wide concurrency look again (an end elsewhere makes room in no other).
   */
  readonly endedElsewhere: () => void
}

export interface WorkersOptions {
  readonly storage: ExecutionStorageService
  readonly registry: Registry
  readonly runs: Runs
  readonly clock: Clock.Clock
  readonly poll: Duration.Duration
  readonly lease: number
}

interface Queue {
  readonly name: string
  readonly concurrency: number | undefined
  readonly workerConcurrency: number
  readonly rateLimit: { readonly limit: number; readonly periodMs: number } | undefined
}

/** The queue options checked: each bad one is an `InvalidOption` naming it. */
const checked = (queue: QueueOptions): Effect.Effect<Queue, InvalidOption> =>
  Effect.gen(function*() {
    const name = yield* storableId("queues[].name", queue.name)
    const concurrency = queue.concurrency === undefined
      ? undefined
      : yield* positiveInteger(`queue "${name}" concurrency`, queue.concurrency)
    const workerConcurrency = yield* positiveInteger(
      `queue "${name}" workerConcurrency`,
      queue.workerConcurrency ?? 100
    )
    const rate = queue.rateLimit
    const rateLimit = rate === undefined ? undefined : {
      limit: yield* positiveInteger(`queue "${name}" rateLimit.limit`, rate.limit),
      periodMs: Duration.toMillis(yield* positiveDuration(`queue "${name}" rateLimit.period`, rate.period))
    }
    return { name, concurrency, workerConcurrency, rateLimit }
  })

export const make = (
  queues: ReadonlyArray<QueueOptions>,
  /** At most this many runs claimed from any of the queues at once here (undefined: no such limit). */
  concurrency: number | undefined,
  { clock, lease, poll, registry, runs, storage }: WorkersOptions
): Effect.Effect<Workers, InvalidOption, Scope.Scope> =>
  Effect.gen(function*() {
    const served = yield* Effect.forEach(queues, checked)
    const limit = concurrency === undefined ? undefined : yield* positiveInteger("concurrency", concurrency)
    // Runs claimed from every queue and going on here, with the room a claim on its way has reserved: the
    // loops claim at once, and must not together exceed the engine's limit.
    let taken = 0
    // The loops that found no room under the engine's limit: woken when some is given back (and only they,
    // so that loops with nothing to claim do not wake each other in turn).
    const starved = new Set<Signal>()
    const giveBack = (count: number) => {
      taken -= count
      if (count <= 0 || starved.size === 0) return
      for (const signal of starved) signal.notify()
      starved.clear()
    }
    // Where other processes' starts and ends wake workers (notifications), an idle worker looks on its own
    // only now and then, in case a hint was lost; elsewhere, every poll.
    const idlePoll = storage.changes === undefined ? poll : Duration.max(poll, Duration.seconds(10))
    const signals = new Map(served.map((queue) => [queue.name, new Signal()] as const))
    const limited = served.flatMap((queue) => queue.concurrency === undefined ? [] : [signals.get(queue.name)!])
    const workers: Workers = {
      endedElsewhere: () => {
        for (const signal of limited) signal.notify()
      },
      wake: (queue) => {
        if (queue === undefined) { for (const signal of signals.values()) signal.notify() }
        else signals.get(queue)?.notify()
      }
    }
    if (served.length === 0) return workers
    const { claimQueued, defineQueue } = storage
    if (claimQueued === undefined || defineQueue === undefined) {
      return yield* new InvalidOption({
        option: "queues",
        value: JSON.stringify(served.map((queue) => queue.name)),
        expected: "a storage with queues (memory, SQLite, PostgreSQL; a storage of your own needs claimQueued)"
      })
    }

    const serve = (queue: Queue, signal: Signal) =>
      Effect.gen(function*() {
        // Declared before the first claim, and again until the storage takes it.
        yield* defineQueue({
          name: queue.name,
          ...(queue.concurrency !== undefined ? { concurrency: queue.concurrency } : {}),
          ...(queue.rateLimit !== undefined ? { rateLimit: queue.rateLimit } : {})
        }).pipe(
          Effect.tapError((error) => Effect.logWarning(`Declaring queue "${queue.name}" failed`, error)),
          Effect.retry(Schedule.spaced(poll))
        )
        // Room under a fleet-wide limit opens wherever a run of the queue ends: hear of every end.
        if (queue.concurrency !== undefined && storage.followQueue !== undefined) {
          yield* storage.followQueue(queue.name)
        }
        // This worker's runs of the queue going on here.
        let running = 0
        const ended = () => {
          running--
          signal.notify()
          giveBack(1)
        }
        while (true) {
          const seen = signal.version
          const engineRoom = (limit ?? Infinity) - taken
          const room = Math.min(queue.workerConcurrency - running, engineRoom, CLAIM_BATCH)
          if (room > 0) taken += room
          else if (engineRoom <= 0) starved.add(signal)
          let retryInMs: number | undefined
          let full = false
          if (room > 0) {
            const claimedAt = clock.unsafeCurrentTimeMillis()
            const answer = yield* claimQueued({
              queue: queue.name,
              workflows: registry.names(),
              limit: room,
              owner: runs.claim.owner,
              leaseMs: lease
            }).pipe(
              Effect.tapError((error) => Effect.logWarning(`Claiming from queue "${queue.name}" failed`, error)),
              Effect.orElseSucceed((): QueueClaimed => ({ claimed: [] }))
            )
            retryInMs = answer.retryInMs
            full = answer.claimed.length === room
            // The room reserved and not claimed is free again.
            giveBack(room - answer.claimed.length)
            for (const record of answer.claimed) {
              const definition = registry.get(record.workflow)
              // Claimed for one of the workflows registered here: it is there.
              if (definition === undefined) {
                giveBack(1)
                continue
              }
              running++
              yield* runs.launch(record.id, definition, { record, claimedAt })
              const end = runs.ended(record.id)
              if (end === undefined) ended()
              else yield* Effect.fork(Effect.ensuring(end, Effect.sync(ended)))
            }
          }
          // Claimed as many as it asked for: there may be more at once.
          if (full) continue
          const wait = retryInMs === undefined ? idlePoll : Duration.min(idlePoll, Duration.millis(retryInMs))
          yield* signal.wait(seen, wait)
        }
      })

    for (const queue of served) yield* Effect.forkScoped(serve(queue, signals.get(queue.name)!))
    return workers
  })
