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
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import type { Query } from "./commitProgram.js"
import { dbNow } from "./commitProgram.js"

/** How long a mark lasts; it is renewed a third of that apart. */
export const FOLLOW_MS = 60_000

/** How soon a mark that failed (or found no execution yet) is tried again. */
const RETRY_MS = 1_000

/**
 * The statement that marks `id` followed for `ms` from now. A finished execution is marked too: it commits
 * nothing more, and no row then means no execution (yet).
 */
export const markQuery = (id: string, ms: number = FOLLOW_MS): Query => ({
  text: `update workflow_executions
            set followed_until = greatest(coalesce(followed_until, 0), ${dbNow.pg} + ?)
          where id = ?
      returning id`,
  params: [ms, id]
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
          // Local time until which the last mark surely holds: it was made after the attempt began.
          let holdsUntil = 0
          let failed = false
          /** Marks `id`: whether the mark before had lapsed. Fails where no row was marked. */
          const mark = Effect.flatMap(Clock.currentTimeMillis, (began) =>
            Effect.flatMap(options.statement(markQuery(id, followMs)), (rows) => {
              if (rows.length === 0) return Effect.fail("no such execution")
              const lapsed = began > holdsUntil
              holdsUntil = began + followMs
              return Effect.succeed(lapsed)
            })).pipe(Effect.tapBoth({
              onFailure: () => Effect.sync(() => (failed = true)),
              onSuccess: () => Effect.sync(() => (failed = false))
            }))
          // The follower reads after the first mark: a lapse before it costs nothing.
          yield* Effect.ignore(Effect.timeout(mark, "2 seconds"))
          const renew = Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sleep(failed || now >= holdsUntil ? RETRY_MS : followMs / 3)).pipe(
              Effect.zipRight(Effect.either(mark)),
              Effect.flatMap((marked) => marked._tag === "Right" && marked.right ? options.lapsed(id) : Effect.void)
            )
          yield* Effect.forkScoped(Effect.forever(renew))
        })
    })
    return {
      follow: (id: string): Effect.Effect<void, never, Scope.Scope> => RcMap.get(marks, id)
    }
  })
