/**
 * The versioned schema of the SQL storage, as `@effect/sql` migrations. One
 * set of statements serves SQLite and PostgreSQL (`bigint` is an integer in
 * both); dialects are branched only where they differ. Past migrations are
 * history: never edit one, add the next.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { StorageError } from "./service.js"

export const migrations = {
  "1_executions_events_journal": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      create table workflow_executions (
        id text primary key,
        workflow text not null,
        input text not null,
        status text not null,
        output text,
        error text,
        created_at bigint not null,
        updated_at bigint not null,
        last_seq integer not null default 0
      )`
    yield* sql`create index workflow_executions_by_created on workflow_executions (created_at, id)`
    yield* sql`create index workflow_executions_by_status on workflow_executions (status, created_at)`
    yield* sql`create index workflow_executions_by_workflow on workflow_executions (workflow, created_at)`
    yield* sql`
      create table workflow_events (
        execution_id text not null,
        seq integer not null,
        type text not null,
        payload text not null,
        primary key (execution_id, seq)
      )`
    yield* sql`
      create table workflow_journal (
        execution_id text not null,
        key text not null,
        name text not null,
        kind text not null,
        state text not null,
        task_id text,
        result text,
        primary key (execution_id, key)
      )`
    // Approvals are journal entries; this index finds a waiting one by task, and the view lists them.
    yield* sql`create index workflow_journal_approvals on workflow_journal (execution_id, task_id, state)`
    yield* sql`
      create view workflow_approvals as
        select execution_id, task_id, key, state, result from workflow_journal where kind = 'approval'`
  }),
  "2_execution_owner_lease": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`alter table workflow_executions add column owner text`
    yield* sql`alter table workflow_executions add column lease_until bigint`
  }),
  "3_partial_approvals_index": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Only approvals need finding by task: steps, the bulk of the journal, no longer maintain this index.
    yield* sql`drop index workflow_journal_approvals`
    yield* sql`
      create index workflow_journal_approvals on workflow_journal (execution_id, task_id, state)
      where kind = 'approval'`
  }),
  "4_sqlite_clustered_logs": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // On SQLite, events and journal entries are stored in their primary key's order (without rowid): a
    // commit then writes each row into one B-tree instead of a table and its key index, about a third fewer
    // pages per step. PostgreSQL has no such tables; nothing changes there.
    yield* sql.onDialectOrElse({
      sqlite: () =>
        Effect.gen(function*() {
          yield* sql`drop view workflow_approvals`
          yield* sql`
            create table workflow_events_clustered (
              execution_id text not null,
              seq integer not null,
              type text not null,
              payload text not null,
              primary key (execution_id, seq)
            ) without rowid`
          yield* sql`
            insert into workflow_events_clustered (execution_id, seq, type, payload)
            select execution_id, seq, type, payload from workflow_events`
          yield* sql`drop table workflow_events`
          yield* sql`alter table workflow_events_clustered rename to workflow_events`
          yield* sql`
            create table workflow_journal_clustered (
              execution_id text not null,
              key text not null,
              name text not null,
              kind text not null,
              state text not null,
              task_id text,
              result text,
              primary key (execution_id, key)
            ) without rowid`
          yield* sql`
            insert into workflow_journal_clustered (execution_id, key, name, kind, state, task_id, result)
            select execution_id, key, name, kind, state, task_id, result from workflow_journal`
          yield* sql`drop table workflow_journal`
          yield* sql`alter table workflow_journal_clustered rename to workflow_journal`
          yield* sql`
            create index workflow_journal_approvals on workflow_journal (execution_id, task_id, state)
            where kind = 'approval'`
          yield* sql`
            create view workflow_approvals as
              select execution_id, task_id, key, state, result from workflow_journal where kind = 'approval'`
        }),
      orElse: () => Effect.void
    })
  }),
  "5_parent_links": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The execution whose body started this one: cancelling a parent finds its children by this link. Older
    // rows have none, which reads as "no parent".
    yield* sql`alter table workflow_executions add column parent text`
    yield* sql`create index workflow_executions_by_parent on workflow_executions (parent) where parent is not null`
  }),
  "6_queues": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The queue an execution waits in (status `created`) until a worker claims it, its priority there, the
    // key that keeps a second start of the same work from queueing twice, and when a worker claimed it
    // (the rate limits count those). Older rows are in no queue.
    yield* sql`alter table workflow_executions add column queue text`
    yield* sql`alter table workflow_executions add column priority integer not null default 0`
    yield* sql`alter table workflow_executions add column dedup_key text`
    yield* sql`alter table workflow_executions add column started_at bigint`
    // Among equal priorities, first come first served: the insertion order (a sequence on PostgreSQL; on
    // SQLite the rowid, which every index of the table ends with).
    yield* sql.onDialectOrElse({
      pg: () =>
        Effect.zipRight(
          sql`alter table workflow_executions add column queue_order bigserial`,
          sql`
            create index workflow_executions_queued on workflow_executions (queue, priority desc, queue_order)
            where status = 'created' and queue is not null`
        ),
      orElse: () =>
        sql`
          create index workflow_executions_queued on workflow_executions (queue, priority desc)
          where status = 'created' and queue is not null`
    })
    // What a queue's concurrency counts: its executions holding a place, running or waiting for input.
    yield* sql`
      create index workflow_executions_queue_active on workflow_executions (queue)
      where status in ('running', 'waiting') and queue is not null`
    yield* sql`
      create index workflow_executions_queue_started on workflow_executions (queue, started_at)
      where started_at is not null`
    yield* sql`
      create unique index workflow_executions_dedup on workflow_executions (queue, dedup_key)
      where dedup_key is not null and status in ('created', 'running', 'waiting')`
    // The limits every worker of a queue keeps to, as the last worker that started declared them.
    yield* sql`
      create table workflow_queues (
        name text primary key,
        concurrency integer,
        rate_limit integer,
        rate_period_ms bigint
      )`
  }),
  "7_waits_and_signals": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // What a waiting execution waits for ("signal:<name>", "sleep", "approval:<taskId>"), and when any
    // engine wakes it (a sleep, a signal's timeout): the next wake-up is the first entry of a small index
    // over the executions that have one, however many executions there are.
    yield* sql`alter table workflow_executions add column waiting_for text`
    yield* sql`alter table workflow_executions add column wake_at bigint`
    yield* sql`create index workflow_executions_wake on workflow_executions (wake_at) where wake_at is not null`
    // A child started with Workflow.child: its end is signalled to its parent, in the same transaction.
    yield* sql`alter table workflow_executions add column awaited_by_parent integer not null default 0`
    // The version of the workflow that started it: only an engine with that version runs it.
    yield* sql`alter table workflow_executions add column workflow_version text`
    // A sleep's or signal wait's deadline, journaled so that a replay waits for the same moment.
    yield* sql`alter table workflow_journal add column wake_at bigint`
    // Signals sent to an execution, each under the seq of its signal_received event: the inbox is those its
    // body has not received (received_by, the key of the wait that took it, is null).
    yield* sql`
      create table workflow_signals (
        execution_id text not null,
        seq integer not null,
        name text not null,
        payload text not null,
        received_by text,
        primary key (execution_id, seq)
      )`
  }),
  "8_schedules": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      create table workflow_schedules (
        name text primary key,
        workflow text not null,
        input text not null,
        cron text not null,
        timezone text,
        missed text not null,
        grace_ms bigint not null,
        paused integer not null default 0,
        next_at bigint not null,
        last_tick bigint,
        last_execution text,
        created_at bigint not null,
        updated_at bigint not null
      )`
    // The next tick of every engine's loop: the first entry of this index.
    yield* sql`create index workflow_schedules_next on workflow_schedules (next_at) where paused = 0`
  }),
  "9_step_rows": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // On SQLite a step's end is stored in the log alone: its journal entry (a step, completed) in the row of
    // its `step_end` event, and the execution's row left as it was. Each b-tree a commit writes to is a page
    // more in the WAL; a step wrote three (the execution, the log, the journal) and now writes one.
    // PostgreSQL's commits update the execution's row anyway (its lock orders commits across processes).
    yield* sql.onDialectOrElse({
      pg: () => Effect.void,
      orElse: () =>
        Effect.all([
          sql`alter table workflow_events add column journal_key text`,
          sql`alter table workflow_events add column journal_name text`,
          sql`alter table workflow_events add column journal_result text`
        ], { discard: true })
    })
  }),
  "10_pg_step_rows": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The columns of `9_step_rows`, on PostgreSQL too: there as well a step's end is now stored in the log
    // alone, as it no longer updates the execution's row, which cost by itself a third of a step's round
    // trip (pgStepEnd.ts, `foldedStepEnd`).
    yield* sql.onDialectOrElse({
      pg: () =>
        Effect.all([
          sql`alter table workflow_events add column journal_key text`,
          sql`alter table workflow_events add column journal_name text`,
          sql`alter table workflow_events add column journal_result text`
        ], { discard: true }),
      orElse: () => Effect.void
    })
  }),
  "11_pg_followed": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Until when some process follows the execution from outside its run (pgFollowing.ts): a commit that
    // sets no status is hinted only until then. SQLite sends no hints between processes.
    yield* sql.onDialectOrElse({
      pg: () => sql`alter table workflow_executions add column followed_until bigint`,
      orElse: () => Effect.void
    })
  }),
  "12_sqlite_keyed_log": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // On SQLite the log is keyed by one integer, an execution's `log_key` times 2^24 plus the seq
    // (sqliteLog.ts; the numbers are written out here, as this migration must stay as it ran): a rowid
    // table, which SQLite appends to without rebalancing pages as it did the clustered key's. Existing
    // executions are keyed in the order of their rows. A key is given to every execution (not null: a row
    // inserted without one is refused by the unique index, not left keyless). `seq` and `log_key` are
    // computed from the position, stored nowhere: for people reading the table.
    yield* sql.onDialectOrElse({
      pg: () => Effect.void,
      orElse: () =>
        Effect.gen(function*() {
          // What the new key cannot hold is refused before anything changes (2^24 - 1 events an execution,
          // 2^39 - 1 the highest key): the database stays as it was, for the version that wrote it.
          const [limits] = yield* sql<{ seq: number | null; key: number | null }>`
            select (select max(seq) from workflow_events) as seq, (select max(rowid) from workflow_executions) as key`
          if ((limits?.seq ?? 0) > 16777215 || (limits?.key ?? 0) > 549755813887) {
            // A defect, as the Migrator would make of a failure (dropping its message): `migrate` makes it the
            // storage's error again.
            return yield* Effect.die(
              new StorageError({
                operation: "migrate",
                reason: `this SQLite database cannot be migrated to the log keyed by position: an execution ` +
                  `holds more than 16777215 events (${limits?.seq}), or its executions' rows are numbered past ` +
                  `549755813887 (${limits?.key})`
              })
            )
          }
          yield* sql`alter table workflow_executions add column log_key integer not null default 0`
          yield* sql`update workflow_executions set log_key = rowid`
          yield* sql`create unique index workflow_executions_log_key on workflow_executions (log_key)`
          yield* sql`
            create table workflow_events_keyed (
              position integer primary key,
              seq integer generated always as (position & 16777215) virtual,
              log_key integer generated always as (position >> 24) virtual,
              type text not null,
              payload text not null,
              journal_key text,
              journal_name text,
              journal_result text
            )`
          yield* sql`
            insert into workflow_events_keyed (position, type, payload, journal_key, journal_name, journal_result)
            select x.log_key * 16777216 + e.seq, e.type, e.payload, e.journal_key, e.journal_name, e.journal_result
              from workflow_events e join workflow_executions x on x.id = e.execution_id
             order by 1`
          yield* sql`drop table workflow_events`
          yield* sql`alter table workflow_events_keyed rename to workflow_events`
        })
    })
  })
}

/** The newest schema version this library knows. */
export const SCHEMA_VERSION = Object.keys(migrations).length
