/**
 * Live across processes on PostgreSQL (LISTEN/NOTIFY): a subscriber, a
 * result waiter and a cancel in one process hear of another process's
 * commits at once. The processes hearing them poll once an hour, so nothing
 * but a notification (or the wake-up after a lost listening connection)
 * can tell them in time. Runs only with TEST_PG_URL.
 */
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Queue, Ref, Schedule, Stream } from "effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import type { StoredEvent } from "../src/WorkflowEvent.js"
import { pgUrl, suiteDatabase } from "./pg.js"
import type { Child } from "./processes.js"
import { startProcess } from "./processes.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "pgWorker.ts")

const children: Array<Child> = []
afterAll(() => children.forEach((child) => child.kill()))

let counter = 0
const freshId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${counter++}`

/** An engine that would hear of other processes' commits only hourly, if not for notifications. */
const deafEngine = (url: string) =>
  WorkflowEngine.layerWith({ pollInterval: "1 hour", recover: false }).pipe(
    Layer.provideMerge(ExecutionStorage.layerPg({ url }))
  )

/** Waits until `check` holds, re-checking as often as it likes; fails naming `what` after a generous limit. */
const eventually = <E>(what: string, check: Effect.Effect<boolean, E>, timeoutMs = 30_000) =>
  check.pipe(
    Effect.flatMap((holds) => holds ? Effect.void : Effect.fail("not yet")),
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

describe.skipIf(pgUrl === undefined)("PostgreSQL notifications", () => {
  const database = suiteDatabase()
  // Where the worker processes' step bodies record what they do.
  beforeAll(() =>
    query(`create table stamps (
      id bigserial primary key, pid integer not null, execution text not null, step integer not null,
      what text not null)`)
  )

  const query = async (text: string) => {
    const client = new pg.Client({ connectionString: database.url() })
    await client.connect()
    try {
      return (await client.query(text)).rows
    } finally {
      await client.end()
    }
  }

  /** A workflow of `steps` steps, each waiting for the test to let it go on. */
  const paced = (go: Queue.Queue<void>, steps: number) =>
    Workflow.make({
      name: "changes-paced",
      run: () =>
        Effect.gen(function*() {
          let total = 0
          for (let i = 0; i < steps; i++) total += yield* Workflow.step(`step-${i}`, Effect.as(Queue.take(go), i))
          return total
        })
    })

  /** Two engines on storage layers of their own (connections and listeners apart), as two processes have. */
  const twoEngines = Effect.gen(function*() {
    const engine = Effect.flatMap(
      Layer.build(deafEngine(database.url())),
      (context) => Effect.provide(WorkflowEngine.WorkflowEngine, context)
    )
    return [yield* engine, yield* engine] as const
  })

  it("a subscriber and a result waiter on another storage layer hear of each commit at once", async () => {
    const id = freshId("followed")
    const go = Effect.runSync(Queue.unbounded<void>())
    const workflow = paced(go, 3)
    const program = Effect.gen(function*() {
      const [a, b] = yield* twoEngines
      yield* a.start(workflow, undefined, { executionId: id })
      const seen = yield* Ref.make<ReadonlyArray<StoredEvent>>([])
      const following = yield* b.events(id).pipe(
        Stream.runForEach((event) => Ref.update(seen, (events) => [...events, event])),
        Effect.fork
      )
      const result = yield* Effect.fork(b.result(id))
      for (let i = 0; i < 3; i++) {
        yield* Queue.offer(go, undefined)
        yield* eventually(
          `the end of step ${i} at the subscriber`,
          Effect.map(
            Ref.get(seen),
            (events) => events.some((event) => event.type === "step_end" && event.runnableName === `step-${i}`)
          )
        )
      }
      expect(yield* Fiber.join(result)).toBe(3)
      yield* Fiber.join(following)
      const events = yield* Ref.get(seen)
      expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1))
      expect(events.at(-1)?.type).toBe("final_output")
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 120_000)

  it("commits written together (group commit) are each notified", async () => {
    const ids = Array.from({ length: 20 }, () => freshId("grouped"))
    const program = Effect.gen(function*() {
      const latch = yield* Deferred.make<void>()
      const gated = Workflow.make({
        name: "changes-gated",
        run: (i: number) => Workflow.step("gated", Effect.as(Deferred.await(latch), i))
      })
      const [a, b] = yield* twoEngines
      yield* Effect.forEach(ids, (executionId, i) => a.start(gated, i, { executionId }))
      const results = yield* Effect.fork(Effect.forEach(ids, (id) => b.result(id), { concurrency: "unbounded" }))
      yield* Deferred.succeed(latch, undefined)
      return yield* Fiber.join(results).pipe(
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("timed out waiting for the results") })
      )
    })
    expect(await Effect.runPromise(Effect.scoped(program))).toEqual(ids.map((_, i) => i))
  }, 120_000)

  it(
    "an approval answered by a client resumes the execution at once in the engine that runs its workflow",
    async () => {
      const id = freshId("approved")
      const approved = Workflow.make({
        name: "changes-approved",
        run: () => Effect.map(Workflow.approval({ taskId: "ship", dataForApproval: 1 }), (answer) => answer.status)
      })
      const program = Effect.gen(function*() {
        // Recovery scans every 200 s: only the hint can resume the execution in time.
        const runner = yield* Layer.build(
          WorkflowEngine.layerWith({ pollInterval: "1 hour", lease: "10 minutes" }).pipe(
            Layer.provideMerge(ExecutionStorage.layerPg({ url: database.url() }))
          )
        )
        const client = yield* Layer.build(deafEngine(database.url()))
        const a = yield* WorkflowEngine.WorkflowEngine.pipe(Effect.provide(runner))
        const b = yield* WorkflowEngine.WorkflowEngine.pipe(Effect.provide(client))
        yield* a.start(approved, undefined, { executionId: id })
        yield* eventually("the execution to wait", Effect.map(b.status(id), (record) => record.status === "waiting"))
        // The client has no workflow code: the engine that has it must run the rest.
        yield* b.approve(id, "ship", { status: "approved" })
        return yield* b.result(id).pipe(
          Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("timed out waiting for the result") })
        )
      })
      expect(await Effect.runPromise(Effect.scoped(program))).toBe("approved")
    },
    120_000
  )

  it("steps and ends are heard only where the execution is followed; other statuses, everywhere", async () => {
    const [unfollowed, cancelled, followed] = [freshId("unfollowed"), freshId("cancelled"), freshId("followed")]
    const go = Effect.runSync(Queue.unbounded<void>())
    const workflow = paced(go, 3)
    const program = Effect.gen(function*() {
      const [a] = yield* twoEngines
      // Another storage layer's hints, as a process with no engine would hear them.
      const storage = yield* Effect.provide(
        ExecutionStorage.ExecutionStorage,
        yield* Layer.build(ExecutionStorage.layerPg({ url: database.url() }))
      )
      const heard = yield* Ref.make<ReadonlyArray<ExecutionStorage.StorageChange>>([])
      yield* storage.changes!.pipe(
        Stream.runForEach((change) => Ref.update(heard, (changes) => [...changes, change])),
        Effect.forkScoped
      )
      const changesTo = (id: string) =>
        Effect.map(
          Ref.get(heard),
          (changes) =>
            changes.flatMap((change) => change._tag === "Committed" && change.executionId === id ? [change] : [])
        )
      const stepsHeard = (id: string) =>
        Effect.map(changesTo(id), (changes) => changes.filter((change) => change.status === undefined).length)
      /** Runs `id` to its end, each step let go once `paced` says. */
      const runToEnd = (id: string, paced: (step: number) => Effect.Effect<void, unknown>) =>
        Effect.gen(function*() {
          const handle = yield* a.start(workflow, undefined, { executionId: id })
          for (let i = 0; i < 3; i++) {
            yield* Queue.offer(go, undefined)
            yield* paced(i)
          }
          expect(yield* handle.result).toBe(3)
        })
      yield* runToEnd(unfollowed, () => Effect.void)
      // A cancel: the process running it must hear, wherever it is.
      yield* a.start(workflow, undefined, { executionId: cancelled })
      yield* a.cancel(cancelled)
      yield* storage.follow!(followed)
      // Each step's end is heard before the next step goes, and the end too.
      yield* runToEnd(
        followed,
        (step) => eventually(`step ${step} heard`, Effect.map(stepsHeard(followed), (n) => n > step))
      )
      yield* eventually(
        "the end heard",
        Effect.map(changesTo(followed), (changes) => changes.some((change) => change.status === "completed"))
      )
      // Hints are heard in the order of their commits: whatever the earlier ones sent has been heard.
      return { unfollowed: yield* changesTo(unfollowed), cancelled: yield* changesTo(cancelled) }
    })
    const heard = await Effect.runPromise(Effect.scoped(program))
    expect(heard.unfollowed).toEqual([])
    expect(heard.cancelled.map((change) => change.status)).toContain("cancelled")
  }, 120_000)

  it("followers look again after the listening connection is lost, and it is listening again", async () => {
    const id = freshId("relistened")
    const go = Effect.runSync(Queue.unbounded<void>())
    const workflow = paced(go, 3)
    const listeners = async () =>
      (await query(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and application_name = 'token-ring-workflow listener'`
      ))[0]!.n as number
    const program = Effect.gen(function*() {
      const [a, b] = yield* twoEngines
      yield* a.start(workflow, undefined, { executionId: id })
      const seen = yield* Ref.make(0)
      yield* b.events(id).pipe(Stream.runForEach(() => Ref.update(seen, (n) => n + 1)), Effect.fork)
      const listening = (n: number) =>
        eventually(`${n} listeners`, Effect.promise(async () => (await listeners()) === n))
      yield* listening(2)
      // Lost, with whatever is notified until they listen again.
      yield* Effect.promise(() =>
        query(
          `select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and application_name = 'token-ring-workflow listener'`
        )
      )
      yield* Queue.offer(go, undefined)
      const status = a.status(id)
      // The first step's start and end.
      yield* eventually("the first step's end in storage", Effect.map(status, (record) => record.lastSeq >= 2))
      const { lastSeq } = yield* status
      yield* eventually("the subscriber to catch up", Effect.map(Ref.get(seen), (n) => n >= lastSeq))
      yield* listening(2)
      // The second step's end sets no status: heard only on the execution's channel, listened on again.
      yield* Queue.offer(go, undefined)
      yield* eventually("the second step's end in storage", Effect.map(status, (record) => record.lastSeq >= 4))
      const second = (yield* status).lastSeq
      yield* eventually("the subscriber to hear of it", Effect.map(Ref.get(seen), (n) => n >= second))
      yield* Queue.offer(go, undefined)
      expect(yield* b.result(id)).toBe(3)
    })
    await Effect.runPromise(Effect.scoped(program))
  }, 120_000)

  describe("with real processes", () => {
    const spawn = (mode: string, id: string) => {
      const child = startProcess(
        ["--import", "tsx", worker, database.url(), mode, id, String(600_000), database.url(), "", "3"],
        { cwd: root }
      )
      children.push(child)
      return child
    }

    it("a subscriber in this process sees each commit of a run in another", async () => {
      const id = freshId("across")
      const child = spawn("paced", id)
      const program = Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* eventually("the execution", Effect.map(Effect.exit(engine.status(id)), Exit.isSuccess))
        const seen = yield* Ref.make<ReadonlyArray<StoredEvent>>([])
        const following = yield* engine.events(id).pipe(
          Stream.runForEach((event) => Ref.update(seen, (events) => [...events, event])),
          Effect.fork
        )
        for (let i = 0; i < 3; i++) {
          child.input(`go ${i}\n`)
          yield* eventually(
            `the end of step ${i} at the subscriber`,
            Effect.map(
              Ref.get(seen),
              (events) => events.some((event) => event.type === "step_end" && event.runnableName === `step-${i}`)
            )
          )
        }
        yield* Fiber.join(following)
        return Chunk.fromIterable(yield* Ref.get(seen))
      })
      const events = await Effect.runPromise(program.pipe(Effect.provide(deafEngine(database.url()))))
      expect(Chunk.last(events).pipe((last) => last._tag === "Some" && last.value.type)).toBe("final_output")
      await child.line((line) => line === "result 3")
      child.endInput()
      expect((await child.exit()).code).toBe(0)
    }, 120_000)

    it("a cancel from this process interrupts the step running in another, long before its lease ends", async () => {
      const id = freshId("cancelled")
      const child = spawn("sleeper", id)
      await child.line((line) => line === "started")
      await Effect.runPromise(
        Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) => engine.cancel(id)).pipe(
          Effect.provide(deafEngine(database.url()))
        )
      )
      // Its lease (10 minutes) is renewed every 200 s: only the notification reaches it sooner.
      await child.line((line) => line === "outcome WorkflowCancelled", 30_000)
      const [stamp] = await query(`select what from stamps where execution = '${id}'`)
      expect(stamp?.what).toBe("interrupted")
      child.endInput()
      expect((await child.exit()).code).toBe(0)
    }, 120_000)
  })
})
