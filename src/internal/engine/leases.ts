/**
 * Leases and recovery: keeping this engine's claims on the executions it
 * runs alive, and taking over executions whose owner died.
 */
import { Duration, Effect, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import * as Listing from "../storage/listing.js"
import type { Registry } from "./registry.js"
import type { Runs } from "./runs.js"

export interface LeaseOptions {
  readonly storage: ExecutionStorageService
  readonly runs: Runs
  readonly owner: string
  /** How long a claim lasts, in ms. */
  readonly lease: number
}

/**
 * Renews this engine's leases every third of the lease. A lease the storage
 * did not extend was taken over; one that could not be extended for two
 * thirds of its length may be taken over any moment: both runs stop. The
 * storage sets and compares leases on its own clock; here only the time
 * elapsed since a renewal was asked counts.
 */
export const keepAlive = ({ lease, owner, runs, storage }: LeaseOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const held = runs.leased()
    const renewed = yield* Effect.either(storage.renew(owner, held.map(([id]) => id), lease))
    const extended = new Set(renewed._tag === "Right" ? renewed.right : [])
    for (const [id, run] of held) {
      if (extended.has(id)) run.leaseConfirmedAt = now
      else if (renewed._tag === "Right" || now - run.leaseConfirmedAt! > (lease * 2) / 3) yield* runs.abandon(id, run)
    }
  }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(lease / 3))), Effect.asVoid, Effect.forkScoped)

/** Launches the unfinished executions of a registered workflow that no run here has. */
export const recover =
  (storage: ExecutionStorageService, registry: Registry, runs: Runs) => (workflow: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const definition = registry.get(workflow)
      if (definition === undefined) return Effect.void
      return Listing.all(storage, { workflow, status: ["running", "created"], limit: 100 }).pipe(
        Stream.runForEach((record) => runs.has(record.id) ? Effect.void : runs.launch(record.id, definition))
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
