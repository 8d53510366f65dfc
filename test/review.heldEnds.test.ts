/**
 * Review of the held step ends (the run writer holds a step's end until the run's next commit or a
 * microtask). The design promises: "a step's end must be durable before anything that depends on it is
 * observable: the next step's body". These tests look for ways around it.
 */
import { Effect, Layer } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"

describe.skipIf(pgUrl === undefined)("held step ends on PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let url = ""
  beforeAll(async () => {
    database = await freshDatabase()
    url = database.url
  })
  afterAll(() => database?.drop())

  it(
    "the next step's body does not start while the previous step's end is still being written",
    async () => {
      const locker = new pg.Client({ connectionString: url })
      const observer = new pg.Client({ connectionString: url })
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
                const rows = (await observer.query(
                  "select state from workflow_journal where execution_id = $1 and name = 'first'",
                  [executionId]
                )).rows
                seenBySecond = rows[0]?.state ?? "nothing stored"
                return 2
              })
            )
            return 3
          })
      })
      await locker.connect()
      await observer.connect()
      try {
        const layer = WorkflowEngine.layerWith({ recover: false }).pipe(
          Layer.provideMerge(ExecutionStorage.layerPg({ url }))
        )
        await Effect.runPromise(
          Effect.gen(function*() {
            const engine = yield* WorkflowEngine.WorkflowEngine
            yield* engine.register(workflow)
            executionId = `held-${Date.now().toString(36)}`
            const handle = yield* engine.start(workflow, 1, { executionId })
            // Give the run time to reach the second step's body (or to block before it, as it should).
            yield* Effect.sleep("500 millis")
            const sawBeforeRelease = seenBySecond
            yield* Effect.promise(() => locker.query("rollback"))
            yield* handle.result
            // The second step's body must not have started before the first step's end was stored.
            expect(sawBeforeRelease).toBe("not started")
            expect(seenBySecond).toBe("completed")
            expect(firstBodies).toBe(1)
          }).pipe(Effect.scoped, Effect.provide(layer))
        )
      } finally {
        await locker.end().catch(() => undefined)
        await observer.end().catch(() => undefined)
      }
    },
    30_000
  )

  it(
    "a step whose body completed and whose next step's body ran is not run again after its end failed to store",
    async () => {
      const locker = new pg.Client({ connectionString: url })
      const admin = new pg.Client({ connectionString: url })
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
      await locker.connect()
      await admin.connect()
      try {
        const layer = WorkflowEngine.layerWith({ recover: false }).pipe(
          Layer.provideMerge(ExecutionStorage.layerPg({ url }))
        )
        await Effect.runPromise(
          Effect.gen(function*() {
            const engine = yield* WorkflowEngine.WorkflowEngine
            yield* engine.register(workflow)
            executionId = `lost-${Date.now().toString(36)}`
            yield* engine.start(workflow, 1, { executionId })
            yield* Effect.sleep("500 millis")
            // The first step's end is still waiting for the row lock (has the second step's body run?). Its
            // connection is then lost (the server terminates it), as a connection can be at any moment.
            const secondBeforeFailure = bodies.second
            yield* Effect.promise(() =>
              admin.query(
                `select pg_terminate_backend(pid) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`
              )
            )
            yield* Effect.promise(() => locker.query("rollback"))
            yield* Effect.sleep("500 millis")
            // The run stopped on the storage failure; resumed, it finishes.
            const resumed = yield* engine.resume(executionId)
            yield* resumed.result
            // A step whose completion was acted upon (the next step's body ran) is not run again: either the
            // second body waited for the first end, or the first body ran once.
            expect({ secondBeforeFailure, firstAgain: bodies.first > 1 }).not.toEqual({
              secondBeforeFailure: 1,
              firstAgain: true
            })
          }).pipe(Effect.scoped, Effect.provide(layer))
        )
      } finally {
        await locker.end().catch(() => undefined)
        await admin.end().catch(() => undefined)
      }
    },
    30_000
  )
})
