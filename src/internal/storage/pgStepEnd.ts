/**
 * A step's end on PostgreSQL in the log alone: the statement that stores it
 * without updating the execution's row, and how a commit tells that another
 * stored the seqs it numbered.
 */
import type { Commit } from "../../ExecutionStorage.js"
import type { Query } from "./commitProgram.js"
import { dbNow, endsAStepAlone, loggedSeq, stepRow, unfinished } from "./commitProgram.js"
import type { EncodedCommit } from "./payload.js"
import type { Notice } from "./pgNotices.js"
import { channelParams, channelsOf } from "./pgNotices.js"

const foldedTexts: Record<"notified" | "quiet", Array<string>> = { notified: [], quiet: [] }

/** The most events a step's end alone is stored with in one `foldedStepEnd`: one statement text each. */
const FOLDED_AT_MOST = 16

/**
 * A step's end on PostgreSQL as one statement, its own transaction, in the log alone: the rows of
 * `stepEndRows` (the step's journal entry in its `step_end` row), numbered after the log's last seq, and
 * the commit's notice. The execution's row is locked `for share`, not updated: a commit that updates it
 * (a cancel, a signal, a claim after the lease) waits for this one, or this one for it and then finds the
 * row as that commit left it (cancelled, held by another) and inserts nothing. The seqs come from the log
 * as the statement began: when another commit wrote after that, the log's primary key refuses the rows
 * (`collided`), nothing is stored, and the commit is written as the commit program, which locks the row
 * before it numbers and says why it was refused. Undefined for a commit that is not a step's end alone,
 * has no owner, or more events than `FOLDED_AT_MOST`. Answers the new last seq, or no row when the run
 * was refused. The rows are a `values` list, one text per count: its plan is then the same for every
 * commit of that count, and the server keeps one.
 */
export const foldedStepEnd = (
  id: string,
  commit: Commit,
  encoded: EncodedCommit,
  owner: string | undefined,
  notice?: Notice
): Query | undefined => {
  const events = encoded.events
  if (owner === undefined || events.length > FOLDED_AT_MOST || !endsAStepAlone(commit, encoded)) return undefined
  const params: Array<unknown> = [id, owner, id, id]
  for (let i = 0; i < events.length; i++) params.push(...stepRow(commit.journal!, encoded, i))
  const texts = foldedTexts[notice === undefined ? "quiet" : "notified"]
  const text = texts[events.length] ??= `with held as (
      select queue, followed_until from workflow_executions
       where id = ? and ${unfinished} and owner = ? and lease_until > ${dbNow.pg}
       for share
    ), logged as (
      insert into workflow_events (execution_id, seq, type, payload, journal_key, journal_name, journal_result)
      select ?, ${loggedSeq("?")} + e.ord, e.type, e.payload, e.key, e.name, e.result
        from held, (values ${
    events.map((_, i) => `(${i + 1}, ?::text, ?::text, ?::text, ?::text, ?::text)`).join(", ")
  }) as e(ord, type, payload, key, name, result)
      returning seq
    )${
    notice === undefined ? "" : `, notified as (select pg_notify(channels.name, ?) from held, ${channelsOf("held")})`
  }
    select (select max(seq) from logged) as last_seq from held${
    notice === undefined ? "" : ", (select count(*) from notified) as sent"
  }`
  if (notice !== undefined) params.push(notice.payload, ...channelParams(notice))
  return { text, params }
}

/** Whether a PostgreSQL statement failed because another commit wrote the seqs it numbered (see `foldedStepEnd`). */
export const collided = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505" &&
  (error as { constraint?: unknown }).constraint === "workflow_events_pkey"
