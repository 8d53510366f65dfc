/**
 * Hints between processes on PostgreSQL. Every commit NOTIFYs one channel
 * with its execution (and its new status, if it set one), in its own
 * transaction, so the hint is sent exactly when the commit is visible. Each
 * storage layer LISTENs on one connection of its own, while anyone follows
 * its changes, and hands other processes' commits on as `StorageChange`s.
 * Storage stays the truth: after the connection was down, `Missed` tells
 * followers to look again.
 */
import { Effect, PubSub, RcRef, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import pg from "pg"
import type { ExecutionStatus, StorageChange } from "../../ExecutionStorage.js"
import type { Query } from "./commitProgram.js"
import { ExecutionStatus as Statuses } from "./service.js"

/** The channel every commit notifies. */
export const channel = "workflow_changes"

// NOTIFY refuses a payload of 8000 bytes or more; a longer one is not sent (its followers poll).
const MAX_PAYLOAD_BYTES = 7999

const statuses = new Set<string>(Statuses.literals)

/**
 * What a commit by `origin` (a storage layer) on `id` notifies: "<origin> <status or -> <id>", the status
 * of a new queued execution as `created:<queue, URI-encoded>` (so that only that queue's workers look);
 * undefined when it would not fit in a notification.
 */
export const notice = (
  origin: string,
  id: string,
  status: ExecutionStatus | undefined,
  queue?: string
): string | undefined => {
  const fits = (said: string) => {
    const payload = `${origin} ${said} ${id}`
    return Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES ? payload : undefined
  }
  // A queue too long to name goes unnamed: every worker looks, as an older process's hint makes them.
  return (status === "created" && queue !== undefined ? fits(`created:${encodeURIComponent(queue)}`) : undefined) ??
    fits(status ?? "-")
}

/** The statement that sends a commit's notice, for a commit made in a transaction of several statements. */
export const noticeQuery = (payload: string): Query => ({ text: "select pg_notify(?, ?)", params: [channel, payload] })

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

const lost = (cause: unknown) => cause instanceof Error ? cause : new Error(String(cause))

/**
 * One listening connection, until it fails: publishes `Missed` once it listens (whatever was sent before
 * was not heard), then every notice. A connection that stops answering (a partition
 * leaves a socket silent) is noticed by a heartbeat, not only by TCP.
 */
const listenOnce = (url: string, publish: (change: StorageChange) => void, heartbeatMs: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new pg.Client({
        connectionString: url,
        application_name: "token-ring-workflow listener",
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        connectionTimeoutMillis: 5_000
      })
    ),
    (client) =>
      Effect.sync(() => {
        client.removeAllListeners("notification")
        // Ending a broken connection may fail again; nothing is left to tell.
        client.on("error", () => undefined)
        client.end().catch(() => undefined)
      })
  ).pipe(
    Effect.flatMap((client) =>
      Effect.async<never, Error>((resume) => {
        const fail = (cause: unknown) => resume(Effect.fail(lost(cause)))
        client.on("error", fail)
        client.on("end", () => fail(new Error("the listening connection closed")))
        client.on("notification", ({ channel: from, payload }) => {
          if (from !== channel || payload === undefined) return
          const change = parse(payload)
          if (change !== undefined) publish(change)
        })
        client.connect()
          .then(() => {
            // Listening is background work: it does not keep the process alive (as the pool's idle
            // connections do not).
            // `unref` is in pg's client but not in its typings.
            ;(client as pg.Client & { readonly unref: () => void }).unref()
            return client.query(`listen ${channel}`)
          })
          .then(() => publish({ _tag: "Missed" }), fail)
      }).pipe(
        Effect.raceFirst(
          Effect.tryPromise({ try: () => client.query("select 1"), catch: lost }).pipe(
            Effect.timeoutFail({
              duration: heartbeatMs,
              onTimeout: () => new Error("the listening connection stopped answering")
            }),
            Effect.repeat(Schedule.spaced(heartbeatMs)),
            Effect.delay(heartbeatMs),
            Effect.zipRight(Effect.never)
          )
        )
      )
    ),
    Effect.scoped
  )

export interface ListenOptions {
  readonly url: string
  /** How often the listening connection is checked, in ms. */
  readonly heartbeatMs?: number
}

/**
 * The changes other processes commit, from one listening connection that is opened while anyone follows
 * them, and reopened (backing off up to 5 s) whenever it is lost.
 */
export const listen = (options: ListenOptions): Effect.Effect<Stream.Stream<StorageChange>, never, Scope.Scope> =>
  Effect.map(
    RcRef.make({
      acquire: Effect.gen(function*() {
        // Bounded: a follower that falls far behind loses the oldest hints, which costs it only latency.
        const changes = yield* PubSub.sliding<StorageChange>(4096)
        const publish = (change: StorageChange) => void changes.unsafeOffer(change)
        yield* listenOnce(options.url, publish, options.heartbeatMs ?? 10_000).pipe(
          Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
          Effect.forkScoped
        )
        return changes
      })
    }),
    (listener) => Stream.unwrapScoped(Effect.map(RcRef.get(listener), (changes) => Stream.fromPubSub(changes)))
  )
