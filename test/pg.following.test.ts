/**
 * On PostgreSQL a commit that sets no status (a step's end, say) notifies
 * only while its execution is followed (`followed_until`, pgFollowing.ts):
 * a NOTIFY wakes every listening connection of the database, and a run
 * nobody watches paid for hints nobody heard. These tests hear the hints on
 * a bare connection that LISTENs (it marks nothing), and follow from another
 * storage layer, as another process would. Runs only with TEST_PG_URL.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Schedule, Scope, Stream } from "effect"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { numbered } from "../src/internal/storage/commitProgram.js"
import * as PgFollowing from "../src/internal/storage/pgFollowing.js"
import { executionChannel } from "../src/internal/storage/pgNotices.js"
import { pgUrl, suiteDatabase, testSession, whileHeld } from "./pg.js"
import { end, OWNER, running, start, stepCommit } from "./stepCommits.js"

let executions = 0
const fresh = (name: string) => `${name}-${Date.now().toString(36)}-${executions++}`

/** Retries `check` until it holds; fails naming `what` after a generous limit. */
const eventually = <E>(what: string, check: Effect.Effect<boolean, E>) =>
  check.pipe(
    Effect.flatMap((holds) => holds ? Effect.void : Effect.fail("not yet")),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

describe.skipIf(pgUrl === undefined)("following an execution on PostgreSQL", () => {
  const database = suiteDatabase()
  const session = testSession(() => database.url())
  const layer = () => Layer.suspend(() => ExecutionStorage.layerPg({ url: database.url() }))

  /** A storage layer of its own (a pool and a listening connection), as another process has. */
  const storageLayer = Effect.suspend(() =>
    Effect.flatMap(Layer.build(layer()), (context) => Effect.provide(ExecutionStorage.ExecutionStorage, context))
  )

  /** The payloads notified on `id`'s channel, as a bare connection that listens hears them. */
  const hearing = (id: string) =>
    Effect.gen(function*() {
      const client = yield* session
      const heard: Array<string> = []
      client.on("notification", ({ payload }) => heard.push(payload ?? ""))
      yield* Effect.promise(() => client.query(`listen ${executionChannel(id)}`))
      // A payload is "<origin> <status or -> <id>".
      return () => heard.map((payload) => payload.split(" ")[1])
    })

  /** Ends `id` (an end always notifies) and answers what was heard once its hint was: hints come in commit order. */
  const endedAndHeard = (
    storage: ExecutionStorage.ExecutionStorageService,
    id: string,
    heard: () => ReadonlyArray<string | undefined>
  ) =>
    Effect.gen(function*() {
      yield* storage.commit(id, { events: [], status: "completed", owner: OWNER })
      yield* eventually("the end's hint", Effect.sync(() => heard().includes("completed")))
      return heard()
    })

  it.scopedLive("a run nobody follows notifies its end only; followed from another layer, each step too", () =>
    Effect.gen(function*() {
      // Each run waits at its gate until the test has followed it (or not).
      const gates = new Map<string, Deferred.Deferred<void>>()
      const workflow = Workflow.make({
        name: "following-steps",
        run: (id: string) =>
          Effect.gen(function*() {
            yield* Workflow.step("gate", Deferred.await(gates.get(id)!))
            for (let i = 0; i < 5; i++) yield* Workflow.step(`step ${i}`, Effect.succeed(i))
            return "done"
          })
      })
      const engine = yield* Effect.provide(
        WorkflowEngine.WorkflowEngine,
        yield* Layer.build(WorkflowEngine.layerWith({ recover: false }).pipe(Layer.provideMerge(layer())))
      )
      const other = yield* storageLayer
      const runOnce = (follow: boolean) =>
        Effect.gen(function*() {
          const id = fresh(follow ? "followed" : "unfollowed")
          const heard = yield* hearing(id)
          const gate = yield* Deferred.make<void>()
          gates.set(id, gate)
          const handle = yield* engine.start(workflow, id, { executionId: id })
          if (follow) yield* other.follow!(id)
          yield* Deferred.succeed(gate, undefined)
          expect(yield* handle.result).toBe("done")
          // Hints arrive in the order of their commits: once the end's is heard, every earlier one was.
          yield* eventually("the end's hint", Effect.sync(() => heard().includes("completed")))
          return heard()
        })
      expect(yield* runOnce(false)).toEqual(["completed"])
      const followed = yield* runOnce(true)
      // The gate's end, then each step's (a fast step's start goes with its end), then the end.
      expect(followed.filter((status) => status === "-").length).toBeGreaterThanOrEqual(5)
      expect(followed.at(-1)).toBe("completed")
    }))

  it.scopedLive("a result waiter in another process marks nothing: the run's steps stay unhinted, its end is heard", () =>
    Effect.gen(function*() {
      const observer = yield* session
      const gate = yield* Deferred.make<void>()
      const workflow = Workflow.make({
        name: "following-awaited",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.step("gate", Deferred.await(gate))
            for (let i = 0; i < 5; i++) yield* Workflow.step(`step ${i}`, Effect.succeed(i))
            return "done"
          })
      })
      const engineOn = (options: Parameters<typeof WorkflowEngine.layerWith>[0]) =>
        Effect.flatMap(
          Layer.build(WorkflowEngine.layerWith(options).pipe(Layer.provideMerge(layer()))),
          (context) => Effect.provide(WorkflowEngine.WorkflowEngine, context)
        )
      const runner = yield* engineOn({ recover: false })
      // Polls hourly: only the end's hint can tell it in time.
      const waiter = yield* engineOn({ recover: false, pollInterval: "1 hour" })
      const id = fresh("awaited")
      const heard = yield* hearing(id)
      yield* runner.start(workflow, undefined, { executionId: id })
      const result = yield* Effect.fork(waiter.result(id))
      yield* eventually(
        "the waiter to listen on the execution's channel",
        Effect.map(
          Effect.promise(() =>
            observer.query("select 1 from pg_stat_activity where datname = current_database() and query = $1", [
              `listen ${executionChannel(id)}`
            ])
          ),
          ({ rows }) => rows.length > 0
        )
      )
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(result)).toBe("done")
      // Its follow had settled before it read the end: a mark would be stored by now.
      const { rows } = yield* Effect.promise(() =>
        observer.query("select followed_until from workflow_executions where id = $1", [id])
      )
      expect(rows).toEqual([{ followed_until: null }])
      yield* eventually("the end's hint", Effect.sync(() => heard().includes("completed")))
      expect(heard()).toEqual(["completed"])
    }))

  it.scopedLive("the mark waits for a step's end in flight, so the follower's read after it has that end", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const [other, observer] = [yield* session, yield* session]
      const id = fresh("in-flight")
      yield* running(id)
      const scope = yield* Effect.scope
      // What a run's step end does (pgStepEnd.ts, `foldedStepEnd`), its transaction held open.
      yield* whileHeld(
        other,
        observer,
        [
          ["select 1 from workflow_executions where id = $1 for share", [id]],
          [
            `insert into workflow_events (execution_id, seq, type, payload, journal_key, journal_name, journal_result)
           values ($1, 1, 'step_start', $2, null, null, null), ($1, 2, 'step_end', $3, '0', 'step 0', $4)`,
            [id, JSON.stringify(start(0, 1)), JSON.stringify(end(0, 1)), JSON.stringify({ _tag: "Success", value: 0 })]
          ]
        ],
        Scope.extend(storage.follow!(id), scope),
        { mustWait: true }
      )
      expect((yield* storage.events(id, { fromSeq: 1, limit: 10 })).map((event) => event.type)).toEqual([
        "step_start",
        "step_end"
      ])
      const { rows } = yield* Effect.promise(() =>
        observer.query(
          `select followed_until > (extract(epoch from clock_timestamp()) * 1000) as followed
             from workflow_executions where id = $1`,
          [id]
        )
      )
      expect(rows).toEqual([{ followed: true }])
    }).pipe(Effect.provide(layer())))

  it.scopedLive("a step's end that began before the mark and locks the row after it is hinted", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const follower = yield* storageLayer
      const [other, observer] = [yield* session, yield* session]
      const id = fresh("raced")
      yield* running(id)
      const heard = yield* hearing(id)
      const scope = yield* Effect.scope
      const waitingForLocks = (count: number) =>
        eventually(
          `${count} sessions waiting for a lock`,
          Effect.map(
            Effect.promise(() =>
              observer.query(
                `select count(*)::int as n from pg_stat_activity
                  where datname = current_database() and wait_event_type = 'Lock'`
              )
            ),
            ({ rows }) => rows[0].n >= count
          )
        )
      // Another commit holds the row (as a cancel or a signal would): the mark queues for it first, then the
      // step's end, whose statement (and so its snapshot) begins before the mark is stored.
      yield* Effect.promise(() => other.query("begin"))
      yield* Effect.promise(() =>
        other.query("select 1 from workflow_executions where id = $1 for no key update", [id])
      )
      const marking = yield* Effect.fork(Scope.extend(follower.follow!(id), scope))
      yield* waitingForLocks(1)
      const stepping = yield* Effect.fork(storage.commit(id, stepCommit(0, 1)))
      yield* waitingForLocks(2)
      yield* Effect.promise(() => other.query("commit"))
      yield* Fiber.join(marking)
      expect(yield* Fiber.join(stepping)).toBe(2)
      // Its statement found the row as the mark left it, and notified.
      expect(yield* endedAndHeard(storage, id, heard)).toEqual(["-", "completed"])
    }).pipe(Effect.provide(layer())))

  it.scopedLive("an execution followed before it exists is marked once it does, and its followers read again", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const follower = yield* storageLayer
      const id = fresh("early")
      const reminded = yield* follower.changes!.pipe(
        Stream.filter((change) =>
          change._tag === "Committed" && change.executionId === id && change.status === undefined
        ),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* follower.follow!(id)
      yield* running(id)
      // Tried again each second: marked, then the followers told to read (nothing else commits here).
      const reminders = yield* Fiber.join(reminded).pipe(
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("timed out waiting for the reminder") })
      )
      expect(Chunk.size(reminders)).toBe(1)
      const heard = yield* hearing(id)
      yield* storage.commit(id, stepCommit(0, 1))
      expect(yield* endedAndHeard(storage, id, heard)).toEqual(["-", "completed"])
    }).pipe(Effect.provide(layer())))

  it.scopedLive("a mark is renewed while followed, once for all the followers of one layer", () =>
    Effect.gen(function*() {
      const observer = yield* session
      const id = fresh("renewed")
      yield* running(id)
      const marks: Array<string> = []
      const following = yield* PgFollowing.make({
        statement: (query) =>
          Effect.promise(async () => {
            marks.push(id)
            return (await observer.query(numbered(query.text), [...query.params])).rows
          }),
        lapsed: () => Effect.void,
        followMs: 900
      })
      const until = () =>
        Effect.map(
          Effect.promise(() => observer.query("select followed_until from workflow_executions where id = $1", [id])),
          ({ rows }) => Number(rows[0].followed_until)
        )
      yield* Effect.all([following.follow(id), following.follow(id)], { concurrency: "unbounded" })
      const first = yield* until()
      expect(marks).toHaveLength(1)
      yield* eventually("a renewal", Effect.map(until(), (now) => now > first))
      expect(marks.length).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.provide(layer())))

  it.scopedLive("a renewal stored after the mark lapsed, though begun before, reminds the followers", () =>
    Effect.gen(function*() {
      const [other, observer] = [yield* session, yield* session]
      const id = fresh("late-renewal")
      yield* running(id)
      // How many marks were stored when the followers were reminded.
      const reminded = yield* Deferred.make<number>()
      let stored = 0
      const following = yield* PgFollowing.make({
        statement: (query) =>
          Effect.promise(async () => {
            const { rows } = await observer.query(numbered(query.text), [...query.params])
            stored++
            return rows
          }),
        lapsed: () => Deferred.succeed(reminded, stored),
        followMs: 1500
      })
      const expired = Effect.map(
        Effect.promise(() =>
          other.query(
            `select followed_until <= (extract(epoch from clock_timestamp()) * 1000) as expired
               from workflow_executions where id = $1`,
            [id]
          )
        ),
        ({ rows }) => rows[0].expired === true
      )
      yield* following.follow(id)
      // A step's end in flight holds the row while the next renewal (due in 0.5 s) waits for it, past the
      // mark's end: a step's end stored then would not have notified.
      yield* Effect.promise(() => other.query("begin"))
      yield* Effect.promise(() => other.query("select 1 from workflow_executions where id = $1 for share", [id]))
      yield* eventually(
        "the renewal to wait for the row",
        Effect.map(
          Effect.promise(() =>
            other.query(
              `select count(*)::int as n from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'`
            )
          ),
          ({ rows }) => rows[0].n > 0
        )
      )
      const before = stored
      yield* eventually("the mark to lapse", expired)
      yield* Effect.promise(() => other.query("commit"))
      // By the late renewal itself, not by luck at a later one.
      const marks = yield* Deferred.await(reminded).pipe(
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("timed out waiting for the reminder") })
      )
      expect(marks).toBe(before + 1)
    }).pipe(Effect.provide(layer())))
})
