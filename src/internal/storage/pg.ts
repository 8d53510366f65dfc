/**
 * The scale-out storage: PostgreSQL through `@effect/sql-pg` (an optional
 * peer dependency: install it to use this layer).
 *
 * Reads and administration go through the shared SQL storage over
 * `SqlClient`. Commits, the hot path of every step, go straight to the `pg`
 * driver on a pool of their own: through the client each statement costs
 * more than a loopback round trip.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import pg from "pg"
import type { CommitError, ExecutionStorageService, FollowOptions, PgOptions } from "../../ExecutionStorage.js"
import type { Query, Rows } from "./commitProgram.js"
import {
  alreadyExists,
  commitProgram,
  numbered,
  refusal,
  runAsync,
  singleStatement,
  statusQuery
} from "./commitProgram.js"
import { createdAsCommitted, creating, creationQuery } from "./creating.js"
import * as PgChanges from "./pgChanges.js"
import * as PgFollowing from "./pgFollowing.js"
import * as GroupCommit from "./pgGroupCommit.js"
import type { Lane } from "./pgLane.js"
import * as PgLane from "./pgLane.js"
import * as PgNotices from "./pgNotices.js"
import { collided, foldedStepEnd } from "./pgStepEnd.js"
import type { InvalidPayload } from "./service.js"
import { ExecutionStorage, isCommitError, StorageError } from "./service.js"
import * as SqlStorage from "./sql.js"
import * as Writer from "./writer.js"

const failed = (operation: string) => (cause: unknown) =>
  new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * A name per statement text: the server parses and plans each once per connection, not per commit. The
 * text has `?` placeholders, numbered once per text too.
 */
const names = new Map<string, { readonly name: string; readonly text: string }>()
const named = (text: string, values: ReadonlyArray<unknown>): pg.QueryConfig => {
  let known = names.get(text)
  if (known === undefined) names.set(text, known = { name: `workflow_commit_${names.size}`, text: numbered(text) })
  return { name: known.name, text: known.text, values: [...values] }
}

/** The connections commits are written on: single statements on the lane, transactions on the pool. */
interface Connections {
  readonly pool: pg.Pool
  readonly lane: Lane
}

/**
 * Writes a commit: a step's end alone in the log (`foldedStepEnd`), else one statement in one round trip
 * when it can (`singleStatement`), else the commit program in a transaction. A connection that failed
 * (lost, or terminated by the server) is a `StorageError` of the commit that used it, and goes back to the
 * pool as broken, so that the pool drops it.
 */
const write = async (
  { lane, pool }: Connections,
  id: string,
  prepared: Writer.Encoded,
  now: number,
  owner: string | undefined,
  origin: string | undefined
): Promise<number> => {
  const { commit, create, encoded } = prepared
  const notice = origin === undefined ? undefined : PgNotices.notice(origin, id, commit.status)
  const single = create === undefined
    ? foldedStepEnd(id, commit, encoded, owner, notice) ?? singleStatement(id, commit, encoded, now, owner, notice)
    : singleStatement(id, commit, encoded, now, owner, notice, createdAsCommitted(create, commit, encoded, now))
  if (single !== undefined) {
    let rows: Rows | undefined
    try {
      // The lane (as `pool.query`) hands a connection that failed back as broken.
      rows = (await lane.query(named(single.text, single.params))).rows
    } catch (error) {
      // It numbered from the log as it began, and another commit stored those seqs meanwhile (or, for a
      // commit that waited for the row, a step's end stored in the log alone). Nothing was stored: written
      // as the program below, which locks the row before it numbers.
      if (!collided(error)) throw error
    }
    if (rows !== undefined) {
      const [row] = rows
      if (row !== undefined) return Number(row.last_seq)
      if (create !== undefined) throw alreadyExists(id)
      const status = statusQuery(id)
      throw refusal(id, owner, (await lane.query(named(status.text, status.params))).rows[0])
    }
  }
  return inTransaction(
    pool,
    commitProgram("pg", id, commit, encoded, now, owner, {
      notice: (to, status) => {
        const notice = origin === undefined ? undefined : PgNotices.notice(origin, to, status)
        return notice === undefined ? undefined : PgNotices.noticeQuery(to, notice)
      },
      ...(create === undefined ? {} : { create: creationQuery("pg", create) })
    })
  )
}

/**
 * Runs a program of statements (see commitProgram.ts) in a transaction on a connection of the pool; what
 * the program throws rolls it back.
 */
const inTransaction = async <A>(pool: pg.Pool, program: Generator<Query, A, Rows>): Promise<A> => {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query("begin")
    try {
      const value = await runAsync(
        program,
        async ({ params, text }) => (await client.query(named(text, params))).rows
      )
      await client.query("commit")
      return value
    } catch (error) {
      await client.query("rollback").catch((lost: Error) => (broken = lost))
      throw error
    }
  } catch (error) {
    // A refusal leaves the connection as good as it was; anything else may have broken it.
    if (!isCommitError(error)) broken ??= error instanceof Error ? error : new Error(String(error))
    throw error
  } finally {
    client.release(broken)
  }
}

const asFailure = (error: unknown): CommitError => isCommitError(error) ? error : failed("commit")(error)

const writeEffect =
  (connections: Connections, now: () => number, origin: string | undefined) =>
  (id: string, prepared: Writer.Encoded, owner: string | undefined): Effect.Effect<number, CommitError> =>
    Effect.tryPromise({ try: () => write(connections, id, prepared, now(), owner, origin), catch: asFailure })

/** Writes a batch of commits of distinct executions, telling each how it went. */
const writeBatch = async (
  connections: Connections,
  batch: ReadonlyArray<GroupCommit.Pending>,
  now: number,
  origin: string | undefined
) => {
  try {
    if (batch.length === 1) {
      const [{ done, id, owner, prepared }] = batch as [GroupCommit.Pending]
      return done({ seq: await write(connections, id, prepared, now, owner, origin) })
    }
    let rows: ReadonlyArray<{ readonly ord: unknown; readonly last_seq: unknown }>
    try {
      rows = (await connections.lane.query(named(GroupCommit.batchText, GroupCommit.batchParams(batch, now, origin))))
        .rows
    } catch (error) {
      // A step's end of one of the executions, stored in the log alone while the batch waited for its row
      // (two runs of one execution in this engine; see pgStepEnd.ts): nothing was stored. Each alone.
      if (!collided(error)) throw error
      await Promise.all(
        batch.map(({ done, id, owner, prepared }) =>
          write(connections, id, prepared, now, owner, origin).then(
            (seq) => done({ seq }),
            (failure) => done({ error: failure })
          )
        )
      )
      return
    }
    await GroupCommit.settle(batch, rows, async (ids) => {
      const { rows } = await connections.lane.query(
        named("select id, status from workflow_executions where id = any($1)", [ids])
      )
      return new Map(rows.map((row) => [row.id as string, row]))
    })
  } catch (error) {
    for (const item of batch) item.done({ error })
  }
}

/**
 * Group commit: commits wait for a batch, and a few batches are on their way at once; every commit queued
 * while they are joins the next. A batch holds one commit per execution (a run writes one at a time).
 */
const groupCommitter = (
  connections: Connections,
  now: () => number,
  origin: string | undefined,
  inFlightAtMost: number
) => {
  let pending: Array<GroupCommit.Pending> = []
  let inFlight = 0
  let scheduled = false
  const send = () => {
    scheduled = false
    while (pending.length > 0 && inFlight < inFlightAtMost) {
      const batch: Array<GroupCommit.Pending> = []
      const ids = new Set<string>()
      const rest: Array<GroupCommit.Pending> = []
      for (const item of pending) {
        if (batch.length < 500 && !ids.has(item.id)) {
          ids.add(item.id)
          batch.push(item)
        } else {
          rest.push(item)
        }
      }
      pending = rest
      inFlight++
      void writeBatch(connections, batch, now(), origin).finally(() => {
        inFlight--
        send()
      })
    }
  }
  return (item: GroupCommit.Pending): void => {
    pending.push(item)
    if (!scheduled) {
      scheduled = true
      queueMicrotask(send)
    }
  }
}

/**
 * How the runs on this storage write: commits are held back, to share a round trip with the next, and
 * grouped with other runs' commits.
 */
const driver = (
  commits: Connections,
  now: () => number,
  origin: string | undefined,
  connections: number
): Writer.Driver<Writer.Encoded> => {
  // Half the pool for batches; the rest for the lane, reads, renewals and commits made outside runs.
  const group = groupCommitter(commits, now, origin, Math.max(1, Math.floor(connections / 2)))
  return {
    ...Writer.encoding,
    write: writeEffect(commits, now, origin),
    // A start that runs what it creates makes one round trip, not two (its creation goes with its first write).
    prepareCreate: Writer.encodingCreation(now),
    writeLater: (id, prepared, owner, done) => {
      // A creation is a statement of its own (an insert, not the batch's update).
      if (prepared.create === undefined && GroupCommit.batchable(prepared.commit, owner)) {
        return group({
          id,
          prepared,
          owner,
          done: (outcome) => done("error" in outcome ? asFailure(outcome.error) : undefined)
        })
      }
      write(commits, id, prepared, now(), owner, origin).then(() => done(undefined), (error) => done(asFailure(error)))
    },
    holds: true
  }
}

/**
 * A pool whose connections never throw: `pg` emits `'error'` on a client whose connection is lost or
 * terminated, and an `EventEmitter` with no listener for it ends the process. The pool listens while a
 * client is idle (and drops it); this listener covers the time it is checked out, when the error reaches
 * the operation using it as a failed query instead.
 */
const makePool = (options: PgOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({
        connectionString: options.url,
        max: options.maxConnections ?? 10,
        // TCP keepalive, probing after 10 s of silence: a peer that vanished without closing is noticed
        // eventually, rather than waited on for ever.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        // Idle connections do not keep Node alive: a process ends once nothing is left to do, however
        // often the engine's background work used the pool before.
        allowExitOnIdle: true,
        connectionTimeoutMillis: 5_000
      })
      pool.on("error", () => undefined)
      pool.on("connect", (client) => client.on("error", () => undefined))
      return pool
    }),
    (pool) => Effect.promise(() => pool.end())
  )

/**
 * The hints of other processes' commits, and following an execution: listening on its channel, then
 * marking it followed, so that its commits that set no status are hinted from then on (pgFollowing.ts).
 */
const hints = (url: string, statement: (query: Query) => Effect.Effect<ReadonlyArray<unknown>, unknown>) =>
  Effect.gen(function*() {
    const { changes, follow, followQueue, remind } = yield* PgChanges.listen({ url })
    const following = yield* PgFollowing.make({ statement, lapsed: remind })
    return {
      changes,
      followQueue,
      // Listened on first: a commit the mark makes hinted is heard. An end notifies whether marked or not.
      follow: (id: string, options?: FollowOptions) =>
        options?.endsOnly === true ? follow(id) : Effect.zipRight(follow(id), following.follow(id))
    }
  })

export const make = (options: PgOptions) =>
  Effect.gen(function*() {
    const shared = yield* SqlStorage.makeMigrated
    const clock = yield* Effect.clock
    const pool = yield* makePool(options)
    const now = () => clock.unsafeCurrentTimeMillis()
    // This layer, in the notices its commits send (which process committed, for whoever reads them).
    const origin = options.notifications === false ? undefined : crypto.randomUUID()
    // Released before the pool ends (finalizers run last in, first out).
    const lane = yield* Effect.acquireRelease(
      Effect.sync(() => PgLane.make(pool, options.maxConnections ?? 10)),
      (lane) => Effect.sync(lane.close)
    )
    const commits: Connections = { pool, lane }
    const commitNow = writeEffect(commits, now, origin)
    // One statement on the commits' lane (or pool, while it is busy), as a named statement: one round trip,
    // parsed once per connection.
    // (Reads stay on the client's connections: followers reading must not hold the commits up.)
    const statement = (query: Query) =>
      Effect.tryPromise({
        try: async () => (await lane.query(named(query.text, query.params))).rows,
        catch: identity
      })
    const service: ExecutionStorageService = {
      ...shared,
      create: creating(
        "pg",
        clock,
        statement,
        shared.get,
        (execution) =>
          origin === undefined ? undefined : PgNotices.notice(origin, execution.id, "created", execution.queue)
      ),
      ...SqlStorage.transactional(
        "pg",
        clock,
        (program) => Effect.tryPromise({ try: () => inTransaction(pool, program), catch: identity }),
        statement
      ),
      commit: (id, commit) =>
        Effect.flatMap(
          Effect.try({ try: () => Writer.encode(id, commit), catch: (error) => error as InvalidPayload }),
          (prepared) => commitNow(id, prepared, commit.owner)
        ),
      writer: Writer.make(driver(commits, now, origin, options.maxConnections ?? 10)),
      ...(origin === undefined ? {} : yield* hints(options.url, statement))
    }
    return service
  })

export const layer = (options: PgOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  Layer.scoped(ExecutionStorage, make(options)).pipe(
    Layer.provide(
      PgClient.layerFromPool({
        // Connected before anything else, as `PgClient.layer` does, so that a bad URL fails here.
        acquire: Effect.tap(makePool(options), (pool) =>
          Effect.tryPromise({
            try: () => pool.query("SELECT 1"),
            catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
          }))
      }).pipe(Layer.mapError(failed("connect")))
    )
  )
