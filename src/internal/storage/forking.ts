/**
 * Forking an execution: which of its journal entries and events a new execution starting from a root
 * position takes over (`plan`, shared by every storage), and the SQL storages' fork as one program of
 * statements, run in one transaction by each driver (as queue claims and wake-ups are).
 */
import type { ForkRequest, JournalEntry } from "../../ExecutionStorage.js"
import { CHILD_PREFIX } from "../waits.js"
import type { Dialect, Query, Rows } from "./commitProgram.js"
import type { EventRow } from "./commitProgram.js"
import { dbNow, insertEvents, recordColumns } from "./commitProgram.js"
import { leaseLength, logKeyColumn, logKeyValue } from "./creating.js"
import { ExecutionNotFound, isEndEvent } from "./service.js"
import * as SqliteLog from "./sqliteLog.js"

const query = (text: string, params: ReadonlyArray<unknown>): Query => ({ text, params })

/** What the plan reads of a journal entry. */
type Entry = Pick<JournalEntry, "key" | "name" | "kind" | "state" | "taskId">

/** What the plan reads of an event. */
interface Shown {
  readonly type: string
  readonly [field: string]: unknown
}

/** The root position an entry belongs to: 3 for "3" and for "3.1.0". */
const rootOf = (key: string): number => Number(key.split(".", 1)[0])

const isRoot = (entry: Entry): boolean => !entry.key.includes(".")

/** Events at the root that close or answer an operation, or come from outside: they open none. */
const opensNothing = new Set(["human_approval_completed", "wait_ended", "signal_received"])

/** Whether `event` is the first event a root entry stored, by what the interpreter writes for each kind. */
const opens = (entry: Entry, event: Shown): boolean => {
  switch (entry.kind) {
    case "step":
      return event.type === "step_start" && event.runnableName === entry.name
    case "emit":
      return event.type === entry.name
    case "approval":
      return event.type === "human_approval_required" && event.taskId === entry.taskId
    case "sleep":
      return event.type === "wait_started" && event.wait === "sleep"
    case "signal":
      return event.type === "wait_started" &&
        (event.wait === "child" ? `${CHILD_PREFIX}${String(event.name)}` : event.name) === entry.name
    case "child":
      return event.type === "child_started" && `${CHILD_PREFIX}${String(event.workflow)}` === entry.name
    case "patch":
      return false
  }
}

/**
 * The seq of the first event of the first root entry at `from` or after, found by walking the log along
 * the root entries in order (events inside a root step, nested steps included, are skipped by depth);
 * else the first terminal event; else undefined (every event precedes the fork point).
 */
const cutAt = (journal: ReadonlyArray<Entry>, events: ReadonlyArray<{ seq: number; event: Shown }>, from: number) => {
  const roots = journal.filter((entry) => isRoot(entry) && entry.kind !== "patch")
    .sort((a, b) => rootOf(a.key) - rootOf(b.key))
  let next = 0
  let depth = 0
  // A wait matched and not ended yet: a wait that goes on after a skipped signal says `wait_started` again.
  let waiting = false
  for (const { event, seq } of events) {
    if (isEndEvent(event.type)) return seq
    if (depth > 0) {
      if (event.type === "step_start") depth++
      else if (event.type === "step_end") depth--
      continue
    }
    if (event.type === "wait_ended") waiting = false
    if (opensNothing.has(event.type)) continue
    if (waiting && opens(roots[next - 1]!, event)) continue
    let found = next
    while (found < roots.length && !opens(roots[found]!, event)) found++
    if (found === roots.length) continue
    if (rootOf(roots[found]!.key) >= from) return seq
    next = found + 1
    if (roots[found]!.kind === "step") depth = 1
    waiting = event.type === "wait_started"
  }
  return undefined
}

/** The keys of the entries a fork from root position `from` copies: completed root entries before it, and theirs. */
export const copied = (journal: ReadonlyArray<Entry>, from: number): ReadonlySet<string> => {
  const roots = new Set(
    journal.filter((entry) => isRoot(entry) && rootOf(entry.key) < from && entry.state === "completed")
      .map((entry) => entry.key)
  )
  return new Set(journal.flatMap((entry) => roots.has(String(rootOf(entry.key))) ? [entry.key] : []))
}

/**
 * What a fork from root position `from` takes over: the completed root entries before it with everything
 * nested in them, and the events before the first event of the fork point, without terminal events and
 * without `signal_received` events of signals no copied entry received (`receivedBy`: the key of the entry
 * that received the signal of that seq).
 */
export const plan = <E extends { readonly seq: number; readonly event: Shown }>(
  journal: ReadonlyArray<Entry>,
  events: ReadonlyArray<E>,
  receivedBy: ReadonlyMap<number, string>,
  from: number
): { readonly keys: ReadonlySet<string>; readonly events: ReadonlyArray<E> } => {
  const keys = copied(journal, from)
  const cut = cutAt(journal, events, from) ?? Number.POSITIVE_INFINITY
  return {
    keys,
    events: events.filter(({ event, seq }) =>
      seq < cut && !isEndEvent(event.type) &&
      (event.type !== "signal_received" || keys.has(receivedBy.get(seq) ?? ""))
    )
  }
}

/** Statements over many rows, in groups small enough for any driver's parameter limit. */
const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/**
 * The fork in one transaction: the new execution, or the one that has its id already. On PostgreSQL the
 * source's row is locked first (`for share`: every commit but a step's end updates it first), so the
 * journal, events and inbox read are of one moment, but for a step's end stored in the log alone between
 * two reads: its entry is in its own row, read with the events after the table's, so it is whole either
 * way. A SQLite transaction holds the database's write lock throughout.
 */
export function* forkProgram(
  dialect: Dialect,
  request: ForkRequest,
  now: number
): Generator<Query, { readonly row: Record<string, unknown>; readonly created: boolean }, Rows> {
  const existing = query(`select ${recordColumns[dialect]} from workflow_executions where id = ?`, [request.id])
  const [found] = yield existing
  if (found !== undefined) return { row: found, created: false }
  const source = request.source
  const [locked] = yield query(
    `select id from workflow_executions where id = ?${dialect === "pg" ? " for share" : ""}`,
    [source]
  )
  if (locked === undefined) throw new ExecutionNotFound({ executionId: source })
  const tabled = (yield query(
    "select key, name, kind, state, task_id from workflow_journal where execution_id = ?",
    [source]
  )).map((row): Entry => ({
    key: String(row.key),
    name: String(row.name),
    kind: row.kind as Entry["kind"],
    state: row.state as Entry["state"],
    ...(row.task_id === null ? {} : { taskId: String(row.task_id) })
  }))
  const events = (yield query(
    dialect === "pg"
      ? `select seq, type, payload, journal_key, journal_name, journal_result
         from workflow_events where execution_id = ? order by seq`
      : `select e.seq, e.type, e.payload, e.journal_key, e.journal_name, e.journal_result
         from ${SqliteLog.eventsOf("?")} order by e.position`,
    [source]
  )).map((row) => ({
    seq: Number(row.seq),
    type: String(row.type),
    payload: String(row.payload),
    event: JSON.parse(String(row.payload)) as Shown,
    // The entry of a step whose end was stored in the log alone (commitProgram.ts, `stepEndRows`).
    entry: row.journal_key !== null && row.journal_key !== undefined
      ? { key: String(row.journal_key), name: String(row.journal_name), result: row.journal_result }
      : undefined
  }))
  // A step's entry in the log supersedes the one its start left in the table.
  const logged = new Map(events.flatMap(({ entry }) => entry === undefined ? [] : [[entry.key, entry] as const]))
  const journal = [
    ...tabled.filter((entry) => !logged.has(entry.key)),
    ...[...logged.values()].map(({ key, name }): Entry => ({ key, name, kind: "step", state: "completed" }))
  ]
  const signals = yield query(
    "select seq, received_by from workflow_signals where execution_id = ? and received_by is not null",
    [source]
  )
  const chosen = plan(
    journal,
    events,
    new Map(signals.map((row) => [Number(row.seq), String(row.received_by)])),
    request.from
  )
  const [row] = yield query(
    `insert into workflow_executions
       (id, workflow, input, status, created_at, updated_at, last_seq, workflow_version, owner, lease_until${
      logKeyColumn[dialect]
    })
     select ?, workflow, input, 'running', ?, ?, ?, workflow_version, ?, ${dbNow[dialect]} + ?${logKeyValue[dialect]}
       from workflow_executions where id = ?
     on conflict (id) do nothing
     returning *`,
    [request.id, now, now, chosen.events.length, request.claim.owner, leaseLength(request.claim.leaseMs), source]
  )
  // Created meanwhile by a fork with the same id.
  if (row === undefined) return { row: (yield existing)[0]!, created: false }
  for (const keys of chunks([...chosen.keys].filter((key) => !logged.has(key)), 500)) {
    yield query(
      `insert into workflow_journal (execution_id, key, name, kind, state, task_id, result, wake_at)
       select ?, key, name, kind, state, task_id, result, wake_at from workflow_journal
        where execution_id = ? and key in (${keys.map(() => "?").join(", ")})`,
      [request.id, source, ...keys]
    )
  }
  let seq = 0
  for (const group of chunks(chosen.events, 200)) {
    // The entries the log holds go with their rows, where the fork takes the entry over.
    const rows = group.map(({ entry, payload, type }): EventRow => {
      const kept = entry !== undefined && chosen.keys.has(entry.key) ? entry : undefined
      return [++seq, type, payload, kept?.key ?? null, kept?.name ?? null, kept?.result ?? null]
    })
    yield insertEvents(dialect, request.id, rows, true)
  }
  return { row, created: true }
}
