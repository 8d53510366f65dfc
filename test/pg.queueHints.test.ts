/**
 * The hint of a queued start names its queue: a worker of another queue
 * does not look for work because of it (a fleet of workers on many queues
 * would otherwise all query the database on every start anywhere). The
 * worker polls once an hour here, so its claims are what hints make it do.
 * The hint's format is read back for every queue name, odd ones included.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import * as PgChanges from "../src/internal/storage/pgChanges.js"
import { pgUrl, suiteDatabase } from "./pg.js"

describe("the hint of a queued start", () => {
  it("names the queue, whatever its name, and reads back as the change it announces", () => {
    for (const queue of ["reports", "with space", "per%cent", "ü-ñ 😀", "colon:queue", ""]) {
      const notice = PgChanges.notice("origin-1", "an id with spaces", "created", queue)!
      expect(notice.channel).toBe(PgChanges.channel)
      expect(PgChanges.parse(notice.payload)).toEqual({
        _tag: "Committed",
        executionId: "an id with spaces",
        status: "created",
        queue
      })
    }
    expect(PgChanges.parse(PgChanges.notice("o", "x", "created")!.payload)).toEqual({
      _tag: "Committed",
      executionId: "x",
      status: "created"
    })
    expect(PgChanges.parse("o created:%E0%A4%A x")).toBeUndefined()
  })
})

describe.skipIf(pgUrl === undefined)("queue hints on PostgreSQL", () => {
  const database = suiteDatabase()

  it("wake the workers of that queue only", async () => {
    const job = Workflow.make({ name: "hinted", run: (n: number) => Effect.succeed(n) })
    const program = Effect.gen(function*() {
      const base = yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() }))
      const storage = yield* Effect.provide(ExecutionStorage.ExecutionStorage, base)
      // The worker's storage counts its claims.
      let claims = 0
      const counted: ExecutionStorage.ExecutionStorageService = {
        ...storage,
        claimQueued: (request) => Effect.suspend(() => (claims++, storage.claimQueued!(request)))
      }
      const worker = yield* WorkflowEngine.make({ queues: [{ name: "a" }], pollInterval: "1 hour" }).pipe(
        Effect.provideService(ExecutionStorage.ExecutionStorage, counted)
      )
      yield* worker.register(job)
      const client = yield* WorkflowEngine.make({ recover: false }).pipe(
        Effect.provideService(ExecutionStorage.ExecutionStorage, storage)
      )
      // The worker's first look, answered before the starts below.
      const first = yield* Effect.promise(() => until(() => claims > 0))
      expect(first).toBe(true)
      const before = claims
      for (let i = 0; i < 20; i++) yield* client.start("hinted", i, { queue: "b" })
      const handle = yield* client.start("hinted", 99, { queue: "a" })
      expect(yield* handle.result).toBe(99)
      // One hint of its own queue (a claim, and another finding nothing more); none of the 20 of queue b.
      expect(claims - before).toBeLessThanOrEqual(3)
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 60_000)
})

/** Whether `check` comes to hold within 30 s, looking every 10 ms. */
const until = async (check: () => boolean): Promise<boolean> => {
  const deadline = Date.now() + 30_000
  while (!check()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return true
}
