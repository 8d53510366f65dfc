/**
 * Review of the held step ends (the run writer holds a step's end until the run's next commit or a
 * microtask). The design promises: "a step's end must be durable before anything that depends on it is
 * observable: the next step's body". These tests look for ways around it.
 */
import { Effect, Layer, Stream } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { pgUrl, suiteDatabase } from "./pg.js"

describe.skipIf(pgUrl === undefined)("held step ends on PostgreSQL", () => {
  const database = suiteDatabase()

  /** Connects `clients`, runs `body` on an engine over the test database (no recovery), ends the clients. */
  const withEngine = async (
    clients: ReadonlyArray<pg.Client>,
    body: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<void, unknown>
  ) => {
    // A client whose connection is lost (dropping the database after a failed test terminates it) fails the
    // query using it, if any; without a listener its `'error'` would be an uncaught exception besides.
    for (const client of clients) client.on("error", () => undefined)
    await Promise.all(clients.map((client) => client.connect()))
    try {
      const layer = WorkflowEngine.layerWith({ recover: false }).pipe(
        Layer.provideMerge(ExecutionStorage.layerPg({ url: database.url() }))
      )
      await Effect.runPromise(
        Effect.flatMap(WorkflowEngine.WorkflowEngine, body).pipe(Effect.scoped, Effect.provide(layer))
      )
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
    }
  }

  /** The server process of a connected client. */
  const backendPid = (client: pg.Client) =>
    Effect.promise(async () => (await client.query("select pg_backend_pid() as pid")).rows[0].pid as number)

  /**
   * The engine's sessions waiting for a lock: those of the test database but `client`'s and the locker's
   * (which can wait too, briefly, for a write of the engine to the row it locks).
   */
  const waitingEngineSessions = `from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock' and pid not in (pg_backend_pid(), $1)`

  /** Waits until a session of the engine waits for a row lock: the end's write the test holds up. */
  const blockedOnTheLock = (client: pg.Client, lockerPid: number) =>
    Effect.promise(async () => {
      while (true) {
        const { rows } = await client.query(`select 1 ${waitingEngineSessions}`, [lockerPid])
        if (rows.length > 0) return
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })

  it(
    "the next step's body does not start while the previous step's end is still being written",
    async () => {
      const locker = new pg.Client({ connectionString: database.url() })
      const observer = new pg.Client({ connectionString: database.url() })
      let firstBodies = 0
      /** What the second step's body saw of the first step's journal entry when it started. */
      let seenBySecond: string | undefined = "not started"
      let executionId = ""
      const workflow = Workflow.make({
        name: "held-end-in-flight",
        run: (_: number) =>
          Effect.gen(function*() {
            yield* Workflow.step(
              "first",
              Effect.promise(async () => {
                firstBodies++
                // Another session locks the execution's row: the first step's end (held, then flushed at the
                // next microtask) waits for the lock, as a write on a busy or slow database waits.
                await locker.query("begin")
                await locker.query("select 1 from workflow_executions where id = $1 for update", [executionId])
                return 1
              })
            )
            // Any asynchronous boundary between two steps (here a scheduler yield; a sleep, a fetch outside
            // a step, Effect's own yield every 2048 operations all do the same).
            yield* Effect.sleep("1 millis")
            yield* Workflow.step(
              "second",
              Effect.promise(async () => {
                // A step's end goes in the log alone (its entry in the `step_end` row), its start in the table.
                const rows = (await observer.query(
                  `select state from (
                     select 'completed' as state from workflow_events
                      where execution_id = $1 and journal_name = 'first'
                     union all
                     select state from workflow_journal where execution_id = $1 and name = 'first'
                   ) as entries order by state = 'completed' desc limit 1`,
                  [executionId]
                )).rows
                seenBySecond = rows[0]?.state ?? "nothing stored"
                return 2
              })
            )
            return 3
          })
      })
      await withEngine([locker, observer], (engine) =>
        Effect.gen(function*() {
          yield* engine.register(workflow)
          const lockerPid = yield* backendPid(locker)
          executionId = `held-${Date.now().toString(36)}`
          const handle = yield* engine.start(workflow, 1, { executionId })
          // The first step's end is on its way and held up by the lock: the second body must wait for it.
          yield* blockedOnTheLock(observer, lockerPid)
          const sawBeforeRelease = seenBySecond
          yield* Effect.promise(() => locker.query("rollback"))
          yield* handle.result
          // The second step's body must not have started before the first step's end was stored.
          expect(sawBeforeRelease).toBe("not started")
          expect(seenBySecond).toBe("completed")
          expect(firstBodies).toBe(1)
        }))
    },
    30_000
  )

  it(
    "a step whose body completed and whose next step's body ran is not run again after its end failed to store",
    async () => {
      const locker = new pg.Client({ connectionString: database.url() })
      const admin = new pg.Client({ connectionString: database.url() })
      const bodies = { first: 0, second: 0 }
      let executionId = ""
      const workflow = Workflow.make({
        name: "held-end-lost",
        run: (_: number) =>
          Effect.gen(function*() {
            yield* Workflow.step(
              "first",
              Effect.promise(async () => {
                bodies.first++
                if (bodies.first === 1) {
                  await locker.query("begin")
                  await locker.query("select 1 from workflow_executions where id = $1 for update", [executionId])
                }
                return 1
              })
            )
            yield* Effect.sleep("1 millis")
            yield* Workflow.step("second", Effect.sync(() => ++bodies.second))
            return 3
          })
      })
      await withEngine([locker, admin], (engine) =>
        Effect.gen(function*() {
          yield* engine.register(workflow)
          const lockerPid = yield* backendPid(locker)
          executionId = `lost-${Date.now().toString(36)}`
          yield* engine.start(workflow, 1, { executionId })
          yield* blockedOnTheLock(admin, lockerPid)
          // The first step's end is waiting for the row lock (has the second step's body run?). Its
          // connection is then lost (the server terminates it), as a connection can be at any moment.
          const secondBeforeFailure = bodies.second
          yield* Effect.promise(() =>
            admin.query(`select pg_terminate_backend(pid) ${waitingEngineSessions}`, [lockerPid])
          )
          yield* Effect.promise(() => locker.query("rollback"))
          // The run stops on the storage failure: its followers here hear of it (the stream fails), or the
          // stream ends if the run got past it.
          yield* Effect.either(Stream.runDrain(engine.events(executionId)))
          // Resumed, it finishes.
          const resumed = yield* engine.resume(executionId)
          yield* resumed.result
          // A step whose completion was acted upon (the next step's body ran) is not run again: either the
          // second body waited for the first end, or the first body ran once.
          expect({ secondBeforeFailure, firstAgain: bodies.first > 1 }).not.toEqual({
            secondBeforeFailure: 1,
            firstAgain: true
          })
        }))
    },
    30_000
  )
})
