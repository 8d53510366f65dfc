/**
 * Hints between processes on PostgreSQL. Every commit NOTIFYs its execution
 * (and its new status, if it set one), in its own transaction, so the hint
 * is sent exactly when the commit is visible; each process hears only what
 * it acts on:
 * - a status that others act on (created, running, waiting, cancelled), on
 *   one channel every process hears: workers, timers, recovery, cancels;
 * - a commit that sets no status (a step's events) or ends the execution
 *   (completed, failed), on a channel of the execution, heard by the
 *   processes following it (`follow`: its subscribers, its result waiters);
 *   one that sets no status is sent only while the execution is followed in
 *   some process (its row's `followed_until`, see pgFollowing.ts): a NOTIFY
 *   wakes every listening connection of the database, and a run that nobody
 *   watches stepped up to a tenth slower for hints nobody heard;
 * - an end, also on a channel of the execution's queue, heard by the workers
 *   waiting for room under the queue's fleet-wide limit (`followQueue`).
 * Every process reading every step and end of every run cost a fleet of
 * workers more than the runs themselves. They are heard by
 * pgChanges.ts. This module has no driver in it: the SQL storages' shared
 * statements use it, and SQLite users need not install `pg`.
 */
import { createHash } from "node:crypto"
import type { ExecutionStatus, StorageChange } from "../../ExecutionStorage.js"
import type { Query } from "./commitProgram.js"
import { dbNow } from "./dialect.js"
import { ExecutionStatus as Statuses } from "./service.js"

/** The channel every process hears: statuses that others act on. */
export const channel = "workflow_changes"

// SHA-256, not MD5: a FIPS build of Node or PostgreSQL refuses MD5. 128 bits of it, in hex, keep the names
// short; `queueChannelOf` digests the same UTF-8 bytes in SQL.
const digest = (name: string) => createHash("sha256").update(name).digest("hex").slice(0, 32)

// Every commit of a run names its execution's channel: a hash each time cost 1 % of a PostgreSQL step.
const CHANNELS_KEPT = 4096
const executionChannels = new Map<string, string>()

/**
 * The channel of an execution's steps and end: a digest of its id, since a channel is a name of at most
 * 63 bytes. Two ids with one channel would only hear each other's hints.
 */
export const executionChannel = (id: string): string => {
  let name = executionChannels.get(id)
  if (name === undefined) {
    if (executionChannels.size >= CHANNELS_KEPT) executionChannels.clear()
    executionChannels.set(id, name = `${channel}_${digest(id)}`)
  }
  return name
}

const queuePrefix = "workflow_queue_"

/** The channel of the ends of a queue's executions (see `executionChannel`). */
export const queueChannel = (queue: string): string => `${queuePrefix}${digest(queue)}`

/** `queueChannel` of the queue in `column`, as SQL: its UTF-8 bytes whatever the database's encoding. */
export const queueChannelOf = (column: string): string =>
  `'${queuePrefix}' || substr(encode(sha256(convert_to(${column}, 'UTF8')), 'hex'), 1, 32)`

/** A hint to send: its payload (see `notice`), on the channel of those who need it. */
export interface Notice {
  readonly channel: string
  readonly payload: string
  /** An end: sent on the channel of the execution's queue too, if it has one. */
  readonly ended: boolean
  /** Sent only while the execution is followed (`followed_until`): a commit that sets no status. */
  readonly followedOnly: boolean
}

const isEnd = (status: ExecutionStatus | undefined) => status === "completed" || status === "failed"

// NOTIFY refuses a payload of 8000 bytes or more; a longer one is not sent (its followers poll).
const MAX_PAYLOAD_BYTES = 7999

const statuses = new Set<string>(Statuses.literals)

/**
 * The hint of a commit by `origin` (a storage layer) on `id`, on its channel. Its payload is
 * "<origin> <status or -> <id>", the status of a new queued execution as `created:<queue, URI-encoded>` (so
 * that only that queue's workers look); undefined when it would not fit in a notification.
 */
export const notice = (
  origin: string,
  id: string,
  status: ExecutionStatus | undefined,
  queue?: string
): Notice | undefined => {
  const fits = (said: string) => {
    const text = `${origin} ${said} ${id}`
    return Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES ? text : undefined
  }
  // A queue too long to name goes unnamed: every worker looks, as an older process's hint makes them.
  const payload = (status === "created" && queue !== undefined
    ? fits(`created:${encodeURIComponent(queue)}`)
    : undefined) ?? fits(status ?? "-")
  if (payload === undefined) return undefined
  const ended = isEnd(status)
  return {
    channel: status === undefined || ended ? executionChannel(id) : channel,
    payload,
    ended,
    followedOnly: status === undefined
  }
}

/** Whether the execution of `row` (its row, or the row of a statement answering it) is followed now. */
export const followed = (row: string): string => `${row}.followed_until > ${dbNow.pg}`

/**
 * The channels a notice goes to, as rows `(name)` of a lateral subquery after `from <row>`, `<row>` being
 * the execution's row advanced (its `queue`, its `followed_until`): the notice's own (unless it is sent
 * only while followed, and the execution is not), and its queue's for an end. Parameters: `channelParams`.
 */
export const channelsOf = (row: string): string =>
  `lateral (select ?::text as name where not ?::boolean or ${followed(row)}
            union all
            select ${queueChannelOf(`${row}.queue`)} where ?::boolean and ${row}.queue is not null) as channels`

/** The parameters of `channelsOf`, in its order. */
export const channelParams = (notice: Notice): Array<unknown> => [notice.channel, notice.followedOnly, notice.ended]

/** The statement that sends a commit's notice, for a commit made in a transaction of several statements. */
export const noticeQuery = (id: string, notice: Notice): Query => ({
  text: `select pg_notify(channels.name, ?) from workflow_executions e, ${channelsOf("e")} where e.id = ?`,
  params: [notice.payload, ...channelParams(notice), id]
})

/**
 * A notice read back: the change it announces, if it is one. Notices this layer sent come back too:
 * several engines may share one layer, and each hears of the others' commits only this way.
 */
export const parse = (payload: string): StorageChange | undefined => {
  const first = payload.indexOf(" ")
  const second = first < 0 ? -1 : payload.indexOf(" ", first + 1)
  if (second < 0) return undefined
  const status = payload.slice(first + 1, second)
  const executionId = payload.slice(second + 1)
  if (status === "-") return { _tag: "Committed", executionId }
  if (status.startsWith("created:")) {
    try {
      return { _tag: "Committed", executionId, status: "created", queue: decodeURIComponent(status.slice(8)) }
    } catch {
      return undefined
    }
  }
  return statuses.has(status)
    ? { _tag: "Committed", executionId, status: status as ExecutionStatus }
    : undefined
}
