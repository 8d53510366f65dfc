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
  const workflows = request.workflows.map(() => "?").join(", ")
  // Picked in a CTE, evaluated once: as a subquery of `in`, PostgreSQL may run it again per row, and with
  // SKIP LOCKED each run can pick others (more rows than the limit).
  const rows = yield query(
    `with picked as (
        select id from workflow_executions
         where status = 'created' and queue = ? and workflow in (${workflows})
         order by priority desc, ${queueOrder[dialect]}
         limit ?${pg ? " for update skip locked" : ""}
      )
      update workflow_executions
        set status = 'running', owner = ?, lease_until = ${dbNow[dialect]} + ?, started_at = ${dbNow[dialect]},
            updated_at = ?
      where id in (select id from picked) and status = 'created'
      returning *`,
    [request.queue, ...request.workflows, room, request.owner, Math.trunc(request.leaseMs), now]
  )
  return retryInMs === undefined ? { rows } : { rows, retryInMs }
}
