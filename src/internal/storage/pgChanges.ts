/**
 * Hearing the hints of PostgreSQL commits (see pgNotices.ts for what each
 * commit notifies, and on which channel). Each storage layer LISTENs on one
 * connection of its own, while anyone follows its changes or a channel, and
 * hands them on as `StorageChange`s. Storage stays the truth: after the
 * connection was down, `Missed` tells followers to look again.
 */
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as RcRef from "effect/RcRef"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import pg from "pg"
import type { StorageChange } from "../../ExecutionStorage.js"
import { onClose } from "../scopeFinalizer.js"
import { channel, executionChannel, parse, queueChannel } from "./pgNotices.js"

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

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

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
            // From here, a channel followed anew is listened on by its follower; these, by this connection,
            // many to a round trip (one query of several statements), so that thousands followed are
            // listened on again in a few round trips, not one each.
            listener.client = client
            const followed = Array.from(listener.followed)
            return Promise.all(
              chunks(followed, 500).map((chunk) => {
                const listening = statement(client, chunk.map(([name]) => `listen ${name};`).join(" "))
                for (const [, each] of chunk) each.listening = listening
                return listening
              })
            )
          })
          .then(() => listener.changes.unsafeOffer({ _tag: "Missed" }), fail)
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
 * them or a channel, and reopened (backing off up to 5 s) whenever it is lost; `follow` and `followQueue`
 * have the hints of an execution's channel, or of a queue's, heard too while their scope is open.
 */
export const listen = (options: ListenOptions): Effect.Effect<
  {
    readonly changes: Stream.Stream<StorageChange>
    readonly follow: (id: string) => Effect.Effect<void, never, Scope.Scope>
    readonly followQueue: (queue: string) => Effect.Effect<void, never, Scope.Scope>
    /** Tells this layer's followers of `id` to read it again, as a hint of a commit would. */
    readonly remind: (id: string) => Effect.Effect<void>
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
    (listeners) => {
      const listenOn = (name: string) =>
        Effect.flatMap(RcRef.get(listeners), (listener) =>
          Effect.uninterruptible(Effect.suspend(() => {
            const followed = follow(listener, name)
            return Effect.as(onClose(Effect.sync(() => unfollow(listener, name))), followed)
          })).pipe(
            // Listened on before the follower reads: a commit after its read is heard (one made while the
            // connection is down is `Missed`). Waited for a while at most: without it, the follower polls.
            Effect.flatMap((followed) =>
              Effect.ignore(Effect.timeout(Effect.promise(() => followed.listening), "2 seconds"))
            )
          ))
      return {
        changes: Stream.unwrapScoped(
          Effect.map(RcRef.get(listeners), (listener) => Stream.fromPubSub(listener.changes))
        ),
        follow: (id: string) => listenOn(executionChannel(id)),
        followQueue: (queue: string) => listenOn(queueChannel(queue)),
        remind: (id: string) =>
          Effect.scoped(Effect.flatMap(RcRef.get(listeners), (listener) =>
            Effect.sync(() =>
              listener.changes.unsafeOffer({ _tag: "Committed", executionId: id })
            )))
      }
    }
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
