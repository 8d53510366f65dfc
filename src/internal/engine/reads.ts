/**
 * The storage reads of watchers (event streams, results, the shared tails),
 * retried while the storage fails in a way a retry may get past.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import { StorageError } from "../storage/service.js"

/** Between tries of a read: from 100 ms, doubling, at most 5 seconds; for about a minute in all. */
const backoff = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.upTo("1 minute")
)

const transient = (error: unknown): boolean => error instanceof StorageError && error.operation !== "decode"

/**
 * A read for a watcher, retried while the storage fails in a way a retry may get past (a lost connection, a
 * database restarting): a result or a stream outlives a short outage. What a retry cannot change (no such
 * execution, a stored value that does not decode) fails at once; an outage longer than the backoff fails
 * with the storage's error.
 */
const retried = <A, E>(read: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  // The retry's machinery is set up only after a first failure: a read that succeeds (every read, nearly
  // always, and several per event for a live subscriber) costs nothing more.
  Effect.catchIf(read, transient, () => Effect.retry(read, { schedule: backoff, while: transient }))

/** The reads watchers make, each one retried. */
export const retrying = (storage: ExecutionStorageService) => ({
  get: (id: string) => retried(storage.get(id)),
  events: (id: string, options: { readonly fromSeq: number; readonly limit: number }) =>
    retried(storage.events(id, options))
})

export type Reads = ReturnType<typeof retrying>

/**
 * A log that stops short of its execution's record: storage holds no event from `seq` on, though the record
 * says the log goes on to `lastSeq` (rows removed or damaged outside the engine). Read again, it would give
 * nothing, for ever: a watcher that finds it twice at the same seq fails with this instead of reading on.
 */
export const logShort = (id: string, seq: number, lastSeq: number): StorageError =>
  new StorageError({
    operation: "events",
    reason: `the log of execution "${id}" holds no event from seq ${seq} on, though its record says it goes on ` +
      `to seq ${lastSeq}: its rows were changed outside the engine`
  })

/**
 * A watcher's check, told each seq at which a read found nothing the record says is stored: whether it is
 * the second time in a row at that seq. The first may be a commit made between the read and the record's
 * (read again: it is there now); the second is a log short of its record.
 */
export const shortLogCheck = (): (seq: number) => boolean => {
  let last: number | undefined
  return (seq) => {
    const again = last === seq
    last = seq
    return again
  }
}
