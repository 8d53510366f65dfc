/**
 * Leases and recovery: keeping this engine's claims on the executions it
 * runs alive, and taking over executions whose owner died.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import * as Listing from "../storage/listing.js"
import { StorageError } from "../storage/service.js"
import type { Registry } from "./registry.js"
import type { Runs } from "./runs.js"
import { runsHere } from "./starting.js"

export interface LeaseOptions {
  readonly storage: ExecutionStorageService
  readonly runs: Runs
  readonly owner: string
  /** How long a claim lasts, in ms. */
  readonly lease: number
}

/**
 * Extends `owner`'s leases on `ids` by `lease` ms; a renewal not answered within a lease (a connection that
 * hangs) fails like a lost one, so that whoever waits on it goes on.
 */
export const renew = (
  storage: ExecutionStorageService,
  owner: string,
  ids: ReadonlyArray<string>,
  lease: number
): Effect.Effect<ReadonlyArray<string>, StorageError> =>
  storage.renew(owner, ids, lease).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(lease),
      onTimeout: () => new StorageError({ operation: "renew", reason: `no answer within ${lease} ms` })
    })
  )

/**
 * Renews this engine's leases every third of the lease. A lease the storage
 * did not extend was taken over (or its execution finished elsewhere); one
 * that could not be extended for two thirds of its length may be taken over
 * any moment: both runs stop (the second also without waiting for a renewal,
 * see `watching`). The storage sets and compares leases on its own clock;
 * here only the time elapsed since a renewal was asked counts. A failed round
 * (storage down) does not end the renewals.
 */
export const keepAlive = (options: LeaseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.zipRight(renewing(options), watching(options))

/**
 * Stops every run whose lease was last confirmed more than two thirds of a lease ago, checked every sixth
 * of a lease, whatever the renewals are doing: a renewal that hangs (a silent partition) answers only at
 * its timeout, a whole lease later, when another engine may have taken the execution over already. So a
 * cut-off run stops at least a sixth of a lease before its lease expires on the storage's clock.
 */
const watching = ({ lease, runs }: LeaseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    for (const [id, run] of runs.leased()) {
      if (run.leaseConfirmedAt !== undefined && now - run.leaseConfirmedAt > (lease * 2) / 3) {
        yield* runs.abandon(id, run)
      }
    }
  }).pipe(
    Effect.repeat(Schedule.spaced(Duration.millis(lease / 6))),
    Effect.asVoid,
    Effect.forkScoped
  )

const renewing = ({ lease, owner, runs, storage }: LeaseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const held = runs.leased()
    if (held.length === 0) return
    const renewed = yield* Effect.either(renew(storage, owner, held.map(([id]) => id), lease))
    const extended = new Set(renewed._tag === "Right" ? renewed.right : [])
    for (const [id, run] of held) {
      // Stored as finished while the renewal was out: its end released the lease, nothing was lost.
      if (run.leaseConfirmedAt === undefined) continue
      if (extended.has(id)) run.leaseConfirmedAt = now
      else if (renewed._tag === "Right" || now - run.leaseConfirmedAt > (lease * 2) / 3) yield* runs.abandon(id, run)
    }
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("Lease renewal failed", cause)),
    Effect.repeat(Schedule.spaced(Duration.millis(lease / 3))),
    Effect.asVoid,
    Effect.forkScoped
  )

/** Launches the unfinished executions of a registered workflow that no run here has. */
export const recover =
  (storage: ExecutionStorageService, registry: Registry, runs: Runs) => (workflow: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const definition = registry.get(workflow)
      if (definition === undefined) return Effect.void
      return Listing.all(storage, { workflow, status: ["running", "created"], limit: 100 }).pipe(
        Stream.runForEach((record) =>
          // Queued and never started: a worker serving its queue claims it, within the queue's limits.
          runs.has(record.id) || (record.status === "created" && record.queue !== undefined) ||
            !runsHere(definition, record)
            ? Effect.void
            : runs.launch(record.id, definition)
        )
      )
    }).pipe(Effect.catchAllCause((cause) => Effect.logWarning(`Recovery of "${workflow}" failed`, cause)))

/**
 * Looks for executions whose owner died every third of the lease, apart from
 * the renewals so that a slow scan never delays them.
 */
export const keepRecovering = (
  registry: Registry,
  recoverOne: (workflow: string) => Effect.Effect<void>,
  lease: number
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => Effect.forEach(registry.names(), recoverOne, { discard: true })).pipe(
    Effect.repeat(Schedule.spaced(Duration.millis(lease / 3))),
    Effect.asVoid,
    Effect.forkScoped
  )
