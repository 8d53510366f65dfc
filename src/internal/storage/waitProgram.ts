/**
 * Durable waits in the SQL storages, written once as programs of statements
 * (as commits and queue claims are) and run in one transaction by each
 * driver: waking the executions whose deadline has come, and reading an
 * execution's inbox of signals.
 */
import type { PurgeRequest, WakeClaim } from "../../ExecutionStorage.js"
import type { Dialect, Query, Rows } from "./commitProgram.js"
import { dbNow } from "./commitProgram.js"
import * as SqliteLog from "./sqliteLog.js"

const query = (text: string, params: ReadonlyArray<unknown>): Query => ({ text, params })

/**
 * Claims up to `request.limit` executions waiting with a `wake_at` at or before `request.now` (earliest
 * first; on PostgreSQL with SKIP LOCKED, so engines waking at once never wait on each other's picks), and
 * reads the next `wake_at` to come. Both walk the partial index over `wake_at` from its start.
 */
export function* wakeProgram(
  dialect: Dialect,
  request: WakeClaim,
  now: number
): Generator<Query, { readonly rows: Rows; readonly next: number | undefined }, Rows> {
  if (request.workflows.length === 0) return { rows: [], next: undefined }
  const workflows = request.workflows.map(() => "?").join(", ")
  const limit = Math.max(0, Math.floor(request.limit))
  // Picked in a CTE, evaluated once (see queueProgram.ts).
  const rows = limit === 0 ? [] : yield query(
    `with due as (
        select id from workflow_executions
         where wake_at <= ? and status = 'waiting' and workflow in (${workflows})
         order by wake_at
         limit ?${dialect === "pg" ? " for update skip locked" : ""}
      )
      update workflow_executions
        set status = 'running', waiting_for = null, wake_at = null, owner = ?,
            lease_until = ${dbNow[dialect]} + ?, updated_at = ?
      where id in (select id from due) and status = 'waiting'
      returning *`,
    [Math.trunc(request.now), ...request.workflows, limit, request.owner, Math.trunc(request.leaseMs), now]
  )
  const [next] = yield query(
    `select min(wake_at) as next from workflow_executions
      where wake_at is not null and status = 'waiting' and workflow in (${workflows})`,
    request.workflows
  )
  return { rows, next: next?.next === null || next?.next === undefined ? undefined : Number(next.next) }
}

/** The signals of an execution its body has not received, in the order sent; only those named `name` if given. */
export function* inboxProgram(id: string, name: string | undefined): Generator<Query, Rows, Rows> {
  return yield name === undefined
    ? query(
      "select seq, name, payload from workflow_signals where execution_id = ? and received_by is null order by seq",
      [id]
    )
    : query(
      `select seq, name, payload from workflow_signals
        where execution_id = ? and name = ? and received_by is null order by seq`,
      [id, name]
    )
}

/**
 * Deletes up to `request.limit` finished executions, oldest started first (the order of the index over
 * status and `created_at`: no sort of every finished row per batch) with everything stored for them (on PostgreSQL the
 * picked rows are locked, and rows another transaction holds are left for the next batch). Answers how many.
 */
export function* purgeProgram(dialect: Dialect, request: PurgeRequest): Generator<Query, number, Rows> {
  const statuses = request.statuses.filter((status) =>
    status === "completed" || status === "failed" ||
    status === "cancelled"
  )
  if (statuses.length === 0 || request.limit <= 0) return 0
  const picked = yield query(
    `select id from workflow_executions
      where status in (${statuses.map(() => "?").join(", ")}) and updated_at <= ?${
      request.workflow === undefined ? "" : " and workflow = ?"
    }
      order by created_at
      limit ?${dialect === "pg" ? " for update skip locked" : ""}`,
    [
      ...statuses,
      Math.trunc(request.before),
      ...(request.workflow === undefined ? [] : [request.workflow]),
      Math.floor(request.limit)
    ]
  )
  const ids = picked.map((row) => String(row.id))
  if (ids.length === 0) return 0
  const list = ids.map(() => "?").join(", ")
  if (dialect === "pg") yield query(`delete from workflow_events where execution_id in (${list})`, ids)
  // On SQLite each execution's log is a range of positions: deleted range by range, not found by a scan.
  else for (const id of ids) yield query(SqliteLog.deleteLog, [id])
  for (const table of ["workflow_journal", "workflow_signals"]) {
    yield query(`delete from ${table} where execution_id in (${list})`, ids)
  }
  const deleted = yield query(
    `delete from workflow_executions where id in (${list}) and status in ('completed', 'failed', 'cancelled')
      returning id`,
    ids
  )
  return deleted.length
}
