/**
 * Following an execution on PostgreSQL: while any follower in this process
 * (a subscriber, a result waiter) has its steps hinted, the execution's row
 * says so (`followed_until`, on the database's clock), and a commit that sets
 * no status notifies only then (see pgNotices.ts). One mark per execution
 * per storage layer, renewed while followed; a process that stops or dies
 * leaves a mark that lapses by itself.
 *
 * The mark is an update of the row, so it takes the row's lock: it waits for
 * a step's end in flight (which holds the row `for share`), and a step's end
 * that began before the mark and locks the row after it reads the row as the
 * mark left it (read committed locks and answers the newest version). Every
 * commit stored after a follower has marked and then read storage is hinted.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import type { Query } from "./commitProgram.js"
import { dbNow } from "./commitProgram.js"

/** How long a mark lasts; it is renewed a third of that apart. */
export const FOLLOW_MS = 60_000

/** How soon a mark that failed (or found no execution yet) is tried again. */
const RETRY_MS = 1_000

/**
 * The statement that marks `id` followed for `ms` from now, answering whether the mark before had lapsed
 * when this one is stored. The row is locked first (`prev`) and the time read after: an update that waits
 * for a lock keeps the values it computed before the wait (a step's end holding the row `for share` is
 * enough to make it wait), and a mark stored late must say so. A finished execution is marked too: it
 * commits nothing more, and no row then means no execution (yet).
 */
export const markQuery = (id: string, ms: number = FOLLOW_MS): Query => ({
  text: `with prev as (
      select id, coalesce(followed_until, 0) as until from workflow_executions where id = ? for no key update
    )
    update workflow_executions e
       set followed_until = greatest(prev.until, ${dbNow.pg} + ?)
      from prev
     where e.id = prev.id
    returning prev.until <= ${dbNow.pg} as lapsed`,
  params: [id, ms]
})

export interface FollowingOptions {
  /** Runs a statement on the commits' pool: its rows. */
  readonly statement: (query: Query) => Effect.Effect<ReadonlyArray<unknown>, unknown>
  /**
   * A mark was made after the last one lapsed (the process stalled, the database was out of reach, the
   * execution did not exist yet): some commits were not hinted, so the followers of `id` read again.
   */
  readonly lapsed: (id: string) => Effect.Effect<void>
  readonly followMs?: number
}

/**
 * `follow(id)`: marks `id` followed (waiting 2 s at most), and keeps it marked while the scope is open.
 * Whoever follows reads storage after this.
 */
export const make = (options: FollowingOptions) =>
  Effect.gen(function*() {
    const followMs = options.followMs ?? FOLLOW_MS
    const marks = yield* RcMap.make({
      lookup: (id: string) =>
        Effect.gen(function*() {
          let failed = false
          // Whether commits may have gone unhinted since the followers read: until a mark is stored in time.
          let unsure = true
          /** Marks `id`: whether the mark before had lapsed. Fails where no row was marked. */
          const mark = Effect.flatMap(options.statement(markQuery(id, followMs)), (rows) =>
            rows.length === 0
              ? Effect.fail("no such execution")
              : Effect.succeed((rows[0] as { readonly lapsed: unknown }).lapsed === true)).pipe(
              Effect.tapBoth({
                onFailure: () => Effect.sync(() => (failed = true)),
                onSuccess: () => Effect.sync(() => (failed = false))
              })
            )
          // The follower reads after the first mark: a lapse before it costs nothing. Not stored within 2 s, it
          // may be stored after the read: the next mark reminds. It is left to finish, not abandoned, so that a
          // row locked for long holds up one connection, not one more per retry.
          const first = yield* Effect.forkScoped(Effect.either(mark))
          const inTime = yield* Effect.timeoutOption(Fiber.join(first), "2 seconds")
          if (Option.isSome(inTime) && Either.isRight(inTime.value)) unsure = false
          const renew = Effect.suspend(() => Effect.sleep(failed || unsure ? RETRY_MS : followMs / 3)).pipe(
            Effect.zipRight(Effect.either(mark)),
            Effect.flatMap((marked) => {
              if (marked._tag === "Left") return Effect.void
              const remind = marked.right || unsure
              unsure = false
              return remind ? options.lapsed(id) : Effect.void
            })
          )
          yield* Effect.forkScoped(Effect.zipRight(Fiber.await(first), Effect.forever(renew)))
        })
    })
    return {
      follow: (id: string): Effect.Effect<void, never, Scope.Scope> => RcMap.get(marks, id)
    }
  })
