/**
 * The hint of a queued start names its queue: a worker of another queue
 * does not look for work because of it (a fleet of workers on many queues
 * would otherwise all query the database on every start anywhere). The
 * worker polls once an hour here, so its claims are what hints make it do.
 * The hint's format is read back for every queue name, odd ones included.
 */
import { Deferred, Effect, Layer, Schedule, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import * as PgNotices from "../src/internal/storage/pgNotices.js"
import { pgUrl, suiteDatabase } from "./pg.js"

describe("the hint of a queued start", () => {
  it("names the queue, whatever its name, and reads back as the change it announces", () => {
    for (const queue of ["reports", "with space", "per%cent", "ü-ñ 😀", "colon:queue", ""]) {
      const notice = PgNotices.notice("origin-1", "an id with spaces", "created", queue)!
      expect(notice.channel).toBe(PgNotices.channel)
      expect(PgNotices.parse(notice.payload)).toEqual({
        _tag: "Committed",
        executionId: "an id with spaces",
        status: "created",
        queue
      })
    }
    expect(PgNotices.parse(PgNotices.notice("o", "x", "created")!.payload)).toEqual({
      _tag: "Committed",
      executionId: "x",
      status: "created"
    })
    expect(PgNotices.parse("o created:%E0%A4%A x")).toBeUndefined()
  })
})

describe.skipIf(pgUrl === undefined)("queue hints on PostgreSQL", () => {
  const database = suiteDatabase()

  it("wake the workers of that queue only", async () => {
    const job = Workflow.make({ name: "hinted", run: (n: number) => Effect.succeed(n) })
    const program = Effect.gen(function*() {
      // The worker's storage counts its claims.
      const { counted, storage, tally } = yield* countingClaims(database.url())
      const worker = yield* WorkflowEngine.make({ queues: [{ name: "a" }], pollInterval: "1 hour" }).pipe(
        Effect.provideService(ExecutionStorage.ExecutionStorage, counted)
      )
      yield* worker.register(job)
      const client = yield* WorkflowEngine.make({ recover: false }).pipe(
        Effect.provideService(ExecutionStorage.ExecutionStorage, storage)
      )
      // The worker's first look, answered before the starts below.
      const first = yield* Effect.promise(() => until(() => tally.claims > 0))
      expect(first).toBe(true)
      const before = tally.claims
      for (let i = 0; i < 20; i++) yield* client.start("hinted", i, { queue: "b" })
      const handle = yield* client.start("hinted", 99, { queue: "a" })
      expect(yield* handle.result).toBe(99)
      // One hint of its own queue (a claim, and another finding nothing more); none of the 20 of queue b.
      expect(tally.claims - before).toBeLessThanOrEqual(3)
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 60_000)
})

describe.skipIf(pgUrl === undefined)("queue ends on PostgreSQL", () => {
  const database = suiteDatabase()

  it("are heard where the queue is followed, and nowhere else", async () => {
    const job = Workflow.make({ name: "ended", run: (n: number) => Effect.succeed(n) })
    const program = Effect.gen(function*() {
      // A worker serving both queues, on a storage layer of its own.
      const worker = yield* WorkflowEngine.make({ queues: [{ name: "quiet" }, { name: "followed" }] }).pipe(
        Effect.provide(yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() })))
      )
      yield* worker.register(job)
      // Another layer's hints, as a process with no engine would hear them, following one queue.
      const storage = yield* Effect.provide(
        ExecutionStorage.ExecutionStorage,
        yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() }))
      )
      const heard: Array<ExecutionStorage.StorageChange> = []
      yield* storage.changes!.pipe(
        Stream.runForEach((change) => Effect.sync(() => heard.push(change))),
        Effect.forkScoped
      )
      yield* storage.followQueue!("followed")
      const quiet = yield* worker.start("ended", 1, { queue: "quiet" })
      expect(yield* quiet.result).toBe(1)
      const followed = yield* worker.start("ended", 2, { queue: "followed" })
      expect(yield* followed.result).toBe(2)
      const endOf = (id: string) =>
        heard.filter((change) =>
          change._tag === "Committed" && change.executionId === id && change.status !== "created"
        )
      expect(yield* Effect.promise(() => until(() => endOf(followed.id).length > 0))).toBe(true)
      // Heard in the order committed: the quiet queue's end, had it been sent here, would be heard by now.
      expect(endOf(followed.id).map((change) => change._tag === "Committed" && change.status))
        .toEqual(["completed"])
      expect(endOf(quiet.id)).toEqual([])
      // Ends written together (group commit) are each heard on the queue's channel too.
      const latch = yield* Deferred.make<void>()
      const gated = Workflow.make({ name: "gated-end", run: (n: number) => Effect.as(Deferred.await(latch), n) })
      yield* worker.register(gated)
      const handles = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => worker.start("gated-end", i, { queue: "followed" })
      )
      yield* Effect.forEach(
        handles,
        (handle) =>
          Effect.repeat(worker.status(handle.id), {
            schedule: Schedule.spaced("10 millis"),
            until: (record) => record.status === "running"
          })
      )
      yield* Deferred.succeed(latch, undefined)
      expect(yield* Effect.forEach(handles, (handle) => handle.result)).toEqual(handles.map((_, i) => i))
      const allHeard = () => handles.every((handle) => endOf(handle.id).length > 0)
      expect(yield* Effect.promise(() => until(allHeard))).toBe(true)
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 60_000)
})

describe.skipIf(pgUrl === undefined)("room under a fleet-wide limit on PostgreSQL", () => {
  const database = suiteDatabase()

  it("is claimed at once by a waiting worker when the execution holding it ends in another process", async () => {
    const job = Workflow.make({ name: "limited", run: (n: number) => Effect.succeed(n) })
    const program = Effect.gen(function*() {
      // Another process, as a bare storage layer: it holds the queue's one place, then ends its execution.
      const other = yield* Effect.provide(
        ExecutionStorage.ExecutionStorage,
        yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() }))
      )
      yield* other.defineQueue!({ name: "narrow", concurrency: 1 })
      yield* other.create({ id: "holder", workflow: "limited", input: 1, status: "created", queue: "narrow" })
      const { claimed } = yield* other.claimQueued!({
        queue: "narrow",
        workflows: ["limited"],
        limit: 1,
        owner: "elsewhere",
        leaseMs: 600_000
      })
      expect(claimed.map((record) => record.id)).toEqual(["holder"])
      // A worker that would look again on its own only hourly: only a hint can send it to claim. Its
      // storage counts the claims it has made.
      const { counted, tally } = yield* countingClaims(database.url())
      const worker = yield* WorkflowEngine.make({
        queues: [{ name: "narrow", concurrency: 1 }],
        pollInterval: "1 hour"
      })
        .pipe(Effect.provideService(ExecutionStorage.ExecutionStorage, counted))
      yield* worker.register(job)
      expect(yield* Effect.promise(() => until(() => tally.claims > 0))).toBe(true)
      const waiting = yield* worker.start("limited", 2, { queue: "narrow" })
      // Its start's hint had the worker look again, find no room, and wait.
      expect(yield* Effect.promise(() => until(() => tally.claims > 1))).toBe(true)
      expect((yield* worker.status(waiting.id)).status).toBe("created")
      yield* other.commit("holder", { status: "completed", output: 1, owner: "elsewhere" })
      expect(
        yield* waiting.result.pipe(Effect.timeoutFail({
          duration: "30 seconds",
          onTimeout: () => new Error("the waiting worker did not claim once room opened")
        }))
      ).toBe(2)
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 60_000)
})

/** A storage layer of its own, and the same storage counting the claims made through it once answered. */
const countingClaims = (url: string) =>
  Effect.gen(function*() {
    const storage = yield* Effect.provide(
      ExecutionStorage.ExecutionStorage,
      yield* Layer.build(ExecutionStorage.layerPg({ url }))
    )
    const tally = { claims: 0 }
    const counted: ExecutionStorage.ExecutionStorageService = {
      ...storage,
      claimQueued: (request) => Effect.ensuring(storage.claimQueued!(request), Effect.sync(() => tally.claims++))
    }
    return { storage, counted, tally }
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
