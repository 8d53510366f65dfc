/**
 * Claims on PostgreSQL: a queue with no limit is claimed from in one
 * statement that locks only the rows it picks, so workers claiming at once
 * never wait on each other's claims (they used to take turns on the queue's
 * row, a transaction of several round trips each, which made two workers
 * slower than one). A queue with a limit still locks its row: its count and
 * its claim must not interleave with another worker's.
 *
 * Shown with the queue's row locked by a session of the test's own: a claim
 * from the queue with no limit goes on, one from the limited queue waits for
 * the lock (a session blocked by the test's, in `pg_stat_activity`) and goes
 * on once it is released.
 */
import { Effect, Layer } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { pgUrl, suiteDatabase } from "./pg.js"

describe.skipIf(pgUrl === undefined)("queue claims on PostgreSQL", () => {
  const database = suiteDatabase()
  const job = Workflow.make({ name: "claimed", run: (n: number) => Workflow.step("double", Effect.succeed(n * 2)) })

  it("lock no queue row for a queue with no limit, and the queue's row for one with a limit", async () => {
    const locker = new pg.Client({ connectionString: database.url() })
    const program = Effect.gen(function*() {
      const storage = yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() }))
      const worker = yield* WorkflowEngine.make({
        queues: [{ name: "free" }, { name: "capped", concurrency: 5 }]
      }).pipe(Effect.provide(storage))
      yield* worker.register(job)
      const client = yield* WorkflowEngine.make({ recover: false }).pipe(Effect.provide(storage))
      // Both queues declared, and claimed from once (nothing there yet).
      expect(yield* client.start("claimed", 1, { queue: "free" }).pipe(Effect.flatMap((h) => h.result))).toBe(2)
      expect(yield* client.start("claimed", 2, { queue: "capped" }).pipe(Effect.flatMap((h) => h.result))).toBe(4)

      yield* Effect.promise(async () => {
        await locker.connect()
        await locker.query("begin")
        await locker.query("select * from workflow_queues where name in ('free', 'capped') for update")
      })
      // Claimed and run while both queue rows stay locked.
      const free = yield* Effect.forEach(
        [10, 11, 12],
        (n) => Effect.flatMap(client.start("claimed", n, { queue: "free" }), (h) => h.result),
        { concurrency: "unbounded" }
      )
      expect(free).toEqual([20, 22, 24])
      // The limited queue's claim waits for the lock; released, it goes on.
      const capped = yield* client.start("claimed", 30, { queue: "capped" })
      const waited = yield* Effect.promise(() =>
        until(async () => {
          const { rows } = await locker.query(
            "select count(*)::int as n from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))"
          )
          return rows[0].n > 0
        })
      )
      expect(waited).toBe(true)
      expect((yield* capped.status).status).toBe("created")
      yield* Effect.promise(() => locker.query("commit"))
      expect(yield* capped.result).toBe(60)
    })
    try {
      await Effect.runPromise(Effect.scoped(program))
    } finally {
      await locker.end().catch(() => undefined)
    }
  }, 120_000)
})

describe.skipIf(pgUrl === undefined)("a claim on PostgreSQL for no workflow", () => {
  const database = suiteDatabase()

  it("claims nothing and fails nothing (a worker with nothing registered yet asks so), from any queue", async () => {
    const program = Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* storage.defineQueue!({ name: "capped", concurrency: 2 })
      for (const queue of ["free", "capped", "never declared"]) {
        const answer = yield* storage.claimQueued!({ queue, workflows: [], limit: 10, owner: "me", leaseMs: 30_000 })
        expect(answer.claimed).toEqual([])
      }
    })
    await Effect.runPromise(
      Effect.scoped(Effect.provide(program, ExecutionStorage.layerPg({ url: database.url() })))
    )
  }, 60_000)
})

/** Whether `check` comes to hold within 60 s, looking every 20 ms. */
const until = async (check: () => Promise<boolean>): Promise<boolean> => {
  const deadline = Date.now() + 60_000
  while (!(await check())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}
