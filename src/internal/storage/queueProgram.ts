/**
 * Queues in the SQL storages, written once as programs of statements (as
 * commits are, see commitProgram.ts) and run in one transaction by each
 * driver. A claim reads the queue's limits and what holds them, then claims
 * within them: on PostgreSQL the queue's row is locked first, so workers
 * claiming at once take turns and never exceed a limit, and queued rows are
 * taken with SKIP LOCKED, so they never wait on each other's picks; SQLite's
 * transaction holds the database's write lock, which serializes claims
 * across processes as well.
 */
import type { QueueClaim, QueueLimits } from "../../ExecutionStorage.js"
import type { Dialect, Query, Rows } from "./commitProgram.js"
import { dbNow } from "./commitProgram.js"

const query = (text: string, params: ReadonlyArray<unknown>): Query => ({ text, params })

export type QueueProgram<A> = Generator<Query, A, Rows>

/** Stores a queue's limits, replacing those stored before. */
export function* defineProgram(limits: QueueLimits): QueueProgram<void> {
  yield query(
    `insert into workflow_queues (name, concurrency, rate_limit, rate_period_ms) values (?, ?, ?, ?)
     on conflict (name) do update
       set concurrency = excluded.concurrency, rate_limit = excluded.rate_limit,
           rate_period_ms = excluded.rate_period_ms`,
    [limits.name, limits.concurrency ?? null, limits.rateLimit?.limit ?? null, limits.rateLimit?.periodMs ?? null]
  )
}

const count = (rows: Rows, column: string): number => Number(rows[0]?.[column] ?? 0)

/** First come, first served among equal priorities: the order executions were inserted in. */
const queueOrder: Record<Dialect, string> = { pg: "queue_order", sqlite: "rowid" }

/**
 * The claim's pick (`extra` narrows it) and its update, shared by both forms of the claim. Picked in a CTE,
 * evaluated once: as a subquery of `in`, PostgreSQL may run it again per row, and with SKIP LOCKED each run
 * can pick others (more rows than the limit).
 */
const pickText = (dialect: Dialect, workflows: number, extra: string) =>
  `picked as (
        select id from workflow_executions
         where status = 'created' and queue = ? and workflow in (${Array(workflows).fill("?").join(", ")})${extra}
         order by priority desc, ${queueOrder[dialect]}
         limit ?${dialect === "pg" ? " for update skip locked" : ""}
      )`

const updateText = (dialect: Dialect) =>
  `update workflow_executions
        set status = 'running', owner = ?, lease_until = ${dbNow[dialect]} + ?, started_at = ${dbNow[dialect]},
            updated_at = ?
      where id in (select id from picked) and status = 'created'
      returning *`

const claimParams = (request: QueueClaim, room: number, now: number) => [
  request.queue,
  ...request.workflows,
  room,
  request.owner,
  Math.trunc(request.leaseMs),
  now
]

/**
 * A claim on PostgreSQL as one statement outside any transaction (one round trip), for a queue with no
 * concurrency or rate limit stored: nothing to count, so nothing to lock but the rows picked (SKIP LOCKED).
 * It claims nothing when the queue has a limit, and its answer says so (`limited`): the claim is then
 * `claimProgram`, in a transaction, the queue's row locked. A limit stored while it runs is as if stored
 * just after: like the runs already going on, those it claimed are not stopped by it.
 */
export const claimUnlimited = (request: QueueClaim, now: number): Query =>
  query(
    `with limited as (
        select exists (
          select 1 from workflow_queues where name = ? and (concurrency is not null or rate_limit is not null)
        ) as yes
      ), ${pickText("pg", request.workflows.length, " and not (select yes from limited)")},
      claimed as (${updateText("pg")})
      select claimed.*, limited.yes as queue_limited from limited left join claimed on true`,
    [request.queue, ...claimParams(request, Math.max(0, Math.floor(request.limit)), now)]
  )

/** What `claimUnlimited` answered: the rows it claimed, or undefined when the queue has a limit. */
export const unlimitedClaimed = (rows: Rows): Rows | undefined => {
  if (rows[0]?.queue_limited === true) return undefined
  return rows.flatMap(({ queue_limited: _, ...row }) => row.id === null || row.id === undefined ? [] : [row])
}

/**
 * Claims up to `request.limit` queued executions within the queue's limits. Answers the claimed rows
 * (`returning *`), and when the rate limit was what stopped it, in how many ms it may claim again.
 */
export function* claimProgram(
  dialect: Dialect,
  request: QueueClaim,
  now: number
): QueueProgram<{ readonly rows: Rows; readonly retryInMs?: number }> {
  const pg = dialect === "pg"
  const [limits] = yield query(
    `select concurrency, rate_limit, rate_period_ms from workflow_queues where name = ?${pg ? " for update" : ""}`,
    [request.queue]
  )
  let room = Math.max(0, Math.floor(request.limit))
  let retryInMs: number | undefined
  if (limits?.concurrency !== null && limits?.concurrency !== undefined) {
    const active = yield query(
      `select count(*) as n from workflow_executions where queue = ? and status in ('running', 'waiting')`,
      [request.queue]
    )
    room = Math.min(room, Number(limits.concurrency) - count(active, "n"))
  }
  if (room > 0 && limits?.rate_limit !== null && limits?.rate_limit !== undefined) {
    const period = Number(limits.rate_period_ms)
    const [window] = yield query(
      `select count(*) as n, min(started_at) as oldest, ${dbNow[dialect]} as now from workflow_executions
        where queue = ? and started_at > ${dbNow[dialect]} - ?`,
      [request.queue, period]
    )
    const free = Number(limits.rate_limit) - Number(window?.n ?? 0)
    // Cut short by the rate: more may be claimed once the oldest claim leaves the window.
    // (With none in the window, the ones claimed now leave it a period from now.)
    if (free < room) {
      retryInMs = Number(window?.n ?? 0) > 0
        ? Math.max(1, Number(window!.oldest) + period - Number(window!.now))
        : period
    }
    room = Math.min(room, free)
  }
  if (room <= 0 || request.workflows.length === 0) {
    return retryInMs === undefined
      ? { rows: [] }
      : { rows: [], retryInMs }
  }
  const rows = yield query(
    `with ${pickText(dialect, request.workflows.length, "")} ${updateText(dialect)}`,
    claimParams(request, room, now)
  )
  return retryInMs === undefined ? { rows } : { rows, retryInMs }
}
