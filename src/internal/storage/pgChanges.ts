/**
 * Hints between processes on PostgreSQL. Every commit NOTIFYs its execution
 * (and its new status, if it set one), in its own transaction, so the hint
 * is sent exactly when the commit is visible. A commit that sets a status
 * notifies one channel every process hears (workers, timers and controls
 * act on statuses); one that does not (a step's events) notifies a channel
 * of its execution, heard only by the processes following it (`follow`):
 * every process reading every step of every run would cost a fleet of
 * workers more than the steps themselves. Each storage layer LISTENs on one
 * connection of its own, while anyone follows its changes, and hands the
 * commits on as `StorageChange`s. Storage stays the truth: after the
 * connection was down, `Missed` tells followers to look again.
 */
import { Effect, PubSub, RcRef, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import { createHash } from "node:crypto"
import pg from "pg"
import type { ExecutionStatus, StorageChange } from "../../ExecutionStorage.js"
import { onClose } from "../scopeFinalizer.js"
import type { Query } from "./commitProgram.js"
import { ExecutionStatus as Statuses } from "./service.js"

/** The channel every commit that sets a status notifies. */
export const channel = "workflow_changes"

/**
 * The channel of an execution's other commits: a digest of its id, since a channel is a name of at most
 * 63 bytes. Two ids with one channel only hear each other's hints.
 */
export const executionChannel = (id: string): string => `${channel}_${createHash("md5").update(id).digest("hex")}`

/** A hint to send: its payload (`notice`), on the channel of those who need it. */
export interface Notice {
  readonly channel: string
  readonly payload: string
}

// NOTIFY refuses a payload of 8000 bytes or more; a longer one is not sent (its followers poll).
const MAX_PAYLOAD_BYTES = 7999

const statuses = new Set<string>(Statuses.literals)

/**
 * What a commit by `origin` (a storage layer) on `id` notifies: "<origin> <status or -> <id>", the status
 * of a new queued execution as `created:<queue, URI-encoded>` (so that only that queue's workers look);
 * undefined when it would not fit in a notification.
 */
export const payload = (
  origin: string,
  id: string,
  status: ExecutionStatus | undefined,
  queue?: string
): string | undefined => {
  const fits = (said: string) => {
    const text = `${origin} ${said} ${id}`
    return Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES ? text : undefined
  }
  // A queue too long to name goes unnamed: every worker looks, as an older process's hint makes them.
  return (status === "created" && queue !== undefined ? fits(`created:${encodeURIComponent(queue)}`) : undefined) ??
    fits(status ?? "-")
}

/** The hint of a commit by `origin` on `id` (see `payload`), on its channel; undefined when it would not fit. */
export const notice = (
  origin: string,
  id: string,
  status: ExecutionStatus | undefined,
  queue?: string
): Notice | undefined => {
  const said = payload(origin, id, status, queue)
  return said === undefined
    ? undefined
    : { channel: status === undefined ? executionChannel(id) : channel, payload: said }
}

/** The statement that sends a commit's notice, for a commit made in a transaction of several statements. */
export const noticeQuery = (notice: Notice): Query => ({
  text: "select pg_notify(?, ?)",
  params: [notice.channel, notice.payload]
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

const lost = (cause: unknown) => cause instanceof Error ? cause : new Error(String(cause))

/** An execution's channel, listened on while followed here. */
interface Followed {
  refs: number
  /** Settles once the connection of the moment listens on it (or could not). */
  listening: Promise<void>
}

/** The listening connection's state, shared by the connections it goes through. */
interface Listener {
  readonly changes: PubSub.PubSub<StorageChange>
  readonly followed: Map<string, Followed>
  /** The connection, from the moment it listens on `channel`; the followed channels are listened on from then. */
  client: pg.Client | undefined
}

/** Runs `listen <name>` (or `unlisten`) on `client`, a failure left to the connection's own end. */
const statement = (client: pg.Client, text: string): Promise<void> =>
  client.query(text).then(() => undefined, () => undefined)

/**
 * One listening connection, until it fails: publishes `Missed` once it listens (whatever was sent before
 * was not heard), then every notice. A connection that stops answering (a partition
 * leaves a socket silent) is noticed by a heartbeat, not only by TCP.
 */
const listenOnce = (url: string, listener: Listener, heartbeatMs: number) =>
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
        if (listener.client === client) listener.client = undefined
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
          if ((from !== channel && !listener.followed.has(from)) || payload === undefined) return
          const change = parse(payload)
          if (change !== undefined) listener.changes.unsafeOffer(change)
        })
        client.connect()
          .then(() => {
            // Listening is background work: it does not keep the process alive (as the pool's idle
            // connections do not).
            // `unref` is in pg's client but not in its typings.
            ;(client as pg.Client & { readonly unref: () => void }).unref()
            return client.query(`listen ${channel}`)
          })
          .then(() => {
            // From here, a channel followed anew is listened on by its follower; these, by this connection.
            listener.client = client
            return Promise.all(
              Array.from(listener.followed, ([name, followed]) =>
                followed.listening = statement(client, `listen ${name}`))
            )
          })
          .then(() =>
            listener.changes.unsafeOffer({ _tag: "Missed" }), fail)
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
 * The changes commits make (`changes`), from one listening connection that is opened while anyone follows
 * them or an execution, and reopened (backing off up to 5 s) whenever it is lost; and `follow`, which has
 * an execution's commits that set no status heard too, while its scope is open.
 */
export const listen = (options: ListenOptions): Effect.Effect<
  {
    readonly changes: Stream.Stream<StorageChange>
    readonly follow: (id: string) => Effect.Effect<void, never, Scope.Scope>
  },
  never,
  Scope.Scope
> =>
  Effect.map(
    RcRef.make({
      acquire: Effect.gen(function*() {
        const listener: Listener = {
          // Bounded: a follower that falls far behind loses the oldest hints, which costs it only latency.
          changes: yield* PubSub.sliding<StorageChange>(4096),
          followed: new Map(),
          client: undefined
        }
        yield* listenOnce(options.url, listener, options.heartbeatMs ?? 10_000).pipe(
          Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
          Effect.forkScoped
        )
        return listener
      })
    }),
    (listeners) => ({
      changes: Stream.unwrapScoped(
        Effect.map(RcRef.get(listeners), (listener) => Stream.fromPubSub(listener.changes))
      ),
      follow: (id: string) =>
        Effect.flatMap(RcRef.get(listeners), (listener) => {
          const name = executionChannel(id)
          return Effect.uninterruptible(Effect.suspend(() => {
            const followed = follow(listener, name)
            return Effect.as(onClose(Effect.sync(() => unfollow(listener, name))), followed)
          })).pipe(
            // Listened on before the follower reads: a commit after its read is heard (one made while the
            // connection is down is `Missed`). Waited for a while at most: without it, the follower polls.
            Effect.flatMap((followed) =>
              Effect.ignore(Effect.timeout(Effect.promise(() => followed.listening), "2 seconds"))
            )
          )
        })
    })
  )

const follow = (listener: Listener, name: string): Followed => {
  let followed = listener.followed.get(name)
  if (followed === undefined) {
    const client = listener.client
    followed = { refs: 0, listening: client === undefined ? Promise.resolve() : statement(client, `listen ${name}`) }
    listener.followed.set(name, followed)
  }
  followed.refs++
  return followed
}

const unfollow = (listener: Listener, name: string): void => {
  const followed = listener.followed.get(name)
  if (followed === undefined || --followed.refs > 0) return
  listener.followed.delete(name)
  const client = listener.client
  if (client !== undefined) void statement(client, `unlisten ${name}`)
}
