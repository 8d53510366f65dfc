/**
 * Group commit on PostgreSQL: the commits runs make while earlier ones are
 * on their way are written together, one statement for all of them, so many
 * concurrent executions share round trips and transactions.
 */
import type { Commit } from "../../ExecutionStorage.js"
import { dbNow, loggedSeq, refusal } from "./commitProgram.js"
import { followed, notice, queueChannelOf } from "./pgNotices.js"
import { conditional, isTerminal } from "./service.js"
import type { Encoded } from "./writer.js"

/** A commit waiting for its batch; `done` hears its new `last_seq`, or why it was not stored. */
export interface Pending {
  readonly id: string
  readonly prepared: Encoded
  readonly owner: string
  readonly done: (outcome: { readonly seq: number } | { readonly error: unknown }) => void
}

/** Whether a commit can go in a batch: one with an owner, neither conditional nor a wait (rare, and wider). */
export const batchable = (commit: Commit, owner: string | undefined): owner is string =>
  owner !== undefined && commit.wait === undefined && !conditional(commit)

/**
 * The statement of a batch. The rows of the executions are locked in id order first, so that two
 * statements locking several of them (two batches, a batch and a renewal) never wait on each other
 * in a cycle. Each commit then advances its execution (owner-guarded, as one commit alone is), and its
 * events and journal entry are inserted from the row it advanced: a refused commit stores nothing and
 * is missing from the answer, the others are stored.
 */
export const batchText = `
  with c as (
    select * from unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[])
      with ordinality as c(id, n, status, output, error, owner, release, ord)
  ), locked as (
    select e.id from workflow_executions e where e.id = any($1::text[]) order by e.id for update
  ), advanced as (
    update workflow_executions e
       set last_seq = greatest(e.last_seq, ${loggedSeq("e.id")}) + c.n, updated_at = $8,
           status = coalesce(c.status, e.status),
           waiting_for = case when c.status is null then e.waiting_for end,
           wake_at = case when c.status is null then e.wake_at end,
           output = coalesce(c.output, e.output),
           error = coalesce(c.error, e.error),
           owner = case when c.release then null else e.owner end,
           lease_until = case when c.release then null else e.lease_until end
      from c
     where e.id = c.id and e.id in (select id from locked)
       and e.status not in ('completed', 'failed', 'cancelled')
       and e.owner = c.owner and e.lease_until > ${dbNow.pg}
     returning e.id, e.last_seq, e.queue, e.followed_until, c.n, c.ord
  ), events as (
    insert into workflow_events (execution_id, seq, type, payload)
    select a.id, (a.last_seq - a.n + v.k)::integer, v.type, v.payload
      from advanced a
      join unnest($9::integer[], $10::integer[], $11::text[], $12::text[]) as v(ord, k, type, payload)
        on v.ord = a.ord
  ), journal as (
    insert into workflow_journal (execution_id, key, name, kind, state, task_id, result)
    select a.id, j.key, j.name, j.kind, j.state, j.task_id, j.result
      from advanced a
      join unnest($13::integer[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
        as j(ord, key, name, kind, state, task_id, result)
        on j.ord = a.ord
    on conflict (execution_id, key) do update
      set name = excluded.name, kind = excluded.kind, state = excluded.state,
          task_id = excluded.task_id, result = excluded.result
  ), notices as (
    select a.queue, n.channel, n.payload, n.ended
      from advanced a join unnest($20::text[], $21::text[], $22::boolean[], $23::boolean[]) with ordinality
        as n(channel, payload, ended, followed_only, ord)
        on n.ord = a.ord
     where n.payload is not null and (not n.followed_only or ${followed("a")})
  ), notified as (
    select pg_notify(c.name, n.payload)
      from notices n,
           lateral (select n.channel as name union all
                    select ${queueChannelOf("n.queue")} where n.ended and n.queue is not null) as c
  )
  select ord, last_seq from advanced, (select count(*) from notified) as sent`

/**
 * The parameters of `batchText` for commits of distinct executions: a column each, in its order. `origin`
 * (this storage layer), when given, has each stored commit notified (see pgChanges.ts).
 */
export const batchParams = (batch: ReadonlyArray<Pending>, now: number, origin?: string): Array<unknown> => {
  // $1..$7: a row per commit; $9..$12: a row per event; $13..$19: a row per journal entry; $20..$23: the
  // notices' channels, payloads, whether each is an end, and whether it is sent only while followed.
  const commits = Array.from({ length: 7 }, () => [] as Array<unknown>)
  const events = Array.from({ length: 4 }, () => [] as Array<unknown>)
  const entries = Array.from({ length: 7 }, () => [] as Array<unknown>)
  const add = (columns: Array<Array<unknown>>, row: ReadonlyArray<unknown>) =>
    row.forEach((value, i) => columns[i]!.push(value))
  batch.forEach(({ id, owner, prepared: { commit, encoded } }, i) => {
    const ord = i + 1
    const release = commit.status !== undefined && isTerminal(commit.status)
    add(commits, [id, encoded.events.length, commit.status ?? null, encoded.output, encoded.error, owner, release])
    encoded.events.forEach((event, k) => add(events, [ord, k + 1, event.type, event.payload]))
    const entry = commit.journal
    if (entry !== undefined) {
      add(entries, [ord, entry.key, entry.name, entry.kind, entry.state, entry.taskId ?? null, encoded.journalResult])
    }
  })
  const notices = batch.map(({ id, prepared: { commit } }) =>
    origin === undefined ? undefined : notice(origin, id, commit.status)
  )
  return [
    ...commits,
    now,
    ...events,
    ...entries,
    notices.map((notice) => notice?.channel ?? null),
    notices.map((notice) => notice?.payload ?? null),
    notices.map((notice) => notice?.ended ?? false),
    notices.map((notice) => notice?.followedOnly ?? false)
  ]
}

/** Tells each commit of a batch how it went, from the rows the statement answered. */
export const settle = (
  batch: ReadonlyArray<Pending>,
  advanced: ReadonlyArray<{ readonly ord: unknown; readonly last_seq: unknown }>,
  statuses: (ids: ReadonlyArray<string>) => Promise<ReadonlyMap<string, Record<string, unknown>>>
): Promise<void> => {
  const seqs = new Map(advanced.map((row) => [Number(row.ord), Number(row.last_seq)]))
  const refused = batch.filter((_, i) => !seqs.has(i + 1))
  const tell = (rows: ReadonlyMap<string, Record<string, unknown>>) =>
    batch.forEach((item, i) => {
      const seq = seqs.get(i + 1)
      item.done(seq !== undefined ? { seq } : { error: refusal(item.id, item.owner, rows.get(item.id)) })
    })
  return refused.length === 0 ? Promise.resolve(tell(new Map())) : statuses(refused.map((item) => item.id)).then(tell)
}
