/**
 * What a start has stored when it returns, on every durable storage: the
 * execution, running, whatever its first step is doing. Under SQLite FULL
 * and on PostgreSQL the creation is written with the run's first write, so
 * the start waits for that write; a process killed with SIGKILL right after
 * `start` returned leaves the execution stored all the same.
 */
import { Effect, Layer } from "effect"
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { MAX_PAYLOAD_CHARS } from "../src/internal/storage/payload.js"
import { pgUrl, suiteDatabase } from "./pg.js"
import { startProcess } from "./processes.js"
import { withTmpfs } from "./tmpfs.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const starter = join(root, "test", "fixtures", "starter.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-start-stored-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes a file until the disk is full. */
const fill = (path: string) => {
  const chunk = Buffer.alloc(64 * 1024, 1)
  const fd = openSync(path, "w")
  try {
    while (true) writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
  } finally {
    closeSync(fd)
  }
}

/** Reads the execution and its events from a storage of its own (another connection, as another process would). */
const stored = (storage: Layer.Layer<ExecutionStorage.ExecutionStorage, ExecutionStorage.StorageError>, id: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const record = yield* storage.get(id)
      const events = yield* storage.events(id, { fromSeq: 1, limit: 10 })
      return { status: record.status, events: events.map((event) => event.type) }
    }).pipe(Effect.provide(storage))
  )

const startSuite = (
  name: string,
  target: () => string,
  synchronous: "NORMAL" | "FULL",
  storage: () => Layer.Layer<ExecutionStorage.ExecutionStorage, ExecutionStorage.StorageError>
) =>
  describe(`a start on ${name}`, () => {
    /**
     * Running, with its first step's start stored or soon to be (written on its own, after the start); where
     * the run's first write creates the execution (SQLite FULL, PostgreSQL), stored with the creation, in
     * the write the start waited for.
     */
    const expectStarted = (found: { readonly status: string; readonly events: ReadonlyArray<string> }) => {
      expect(found.status).toBe("running")
      if (synchronous === "FULL") expect(found.events).toEqual(["step_start"])
      else expect(["step_start"].slice(0, found.events.length)).toEqual(found.events)
    }

    it("has stored the execution when it returns, while its first step's body still runs", async () => {
      let release: (() => void) | undefined
      const began = new Promise<void>((resolve) => {
        release = resolve
      })
      const waiting = Workflow.make({
        name: "waits-in-first-step",
        run: (n: number) => Workflow.step("waits", Effect.as(Effect.promise(() => began), n + 1))
      })
      await Effect.runPromise(
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handle = yield* engine.start(waiting, 1)
          // The step's body has not ended (it waits for `release`): yet the execution is stored.
          expectStarted(yield* Effect.promise(() => stored(storage(), handle.id)))
          release!()
          expect(yield* handle.result).toBe(2)
        }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(storage()))))
      )
    }, 60_000)

    it("fails on an engine that has closed, rather than waiting for a run that will not be", async () => {
      const oneStep = Workflow.make({
        name: "one-step",
        run: (n: number) => Workflow.step("double", Effect.succeed(n))
      })
      const closed = await Effect.runPromise(
        Effect.scoped(
          Effect.provide(WorkflowEngine.WorkflowEngine, WorkflowEngine.layer.pipe(Layer.provide(storage())))
        )
      )
      const exit = await Effect.runPromiseExit(closed.start(oneStep, 1))
      expect(exit._tag).toBe("Failure")
    }, 60_000)

    it("fails with InvalidPayload for an input too large to store, and stores nothing of it", async () => {
      const takes = Workflow.make({
        name: "takes-text",
        run: (text: string) => Workflow.step("length", Effect.succeed(text.length))
      })
      await Effect.runPromise(
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const before = (yield* engine.executions({ workflow: "takes-text" })).executions.length
          const failed = yield* Effect.flip(engine.start(takes, "x".repeat(MAX_PAYLOAD_CHARS + 1)))
          expect(failed._tag).toBe("InvalidPayload")
          expect((yield* engine.executions({ workflow: "takes-text" })).executions.length).toBe(before)
          // The engine goes on: a start that can be stored is.
          expect(yield* (yield* engine.start(takes, "fits")).result).toBe(4)
        }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(storage()))))
      )
    }, 60_000)

    it(
      "gives the first run its input as a read gives it back: a copy of its own, which the body may change",
      async () => {
        const changes = Workflow.make({
          name: "changes-its-input",
          run: (input: { n: number; z: number }) =>
            Effect.sync(() => {
              input.n++
              return { n: input.n, negativeZero: Object.is(input.z, -0) }
            })
        })
        const given = { n: 1, z: -0 }
        const result = await Effect.runPromise(
          Effect.gen(function*() {
            const engine = yield* WorkflowEngine.WorkflowEngine
            return yield* (yield* engine.start(changes, given)).result
          }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(storage()))))
        )
        // -0 reads back from JSON as 0, as a replay would see it; the caller's object is left as it was.
        expect(result).toEqual({ n: 2, negativeZero: false })
        expect(given).toEqual({ n: 1, z: -0 })
      },
      60_000
    )

    it("works over a storage that puts a writer of its own in place of this one's", async () => {
      const oneStep = Workflow.make({
        name: "one-step",
        run: (n: number) => Workflow.step("double", Effect.succeed(n * 2))
      })
      const wrapped = Layer.effect(
        ExecutionStorage.ExecutionStorage,
        Effect.map(ExecutionStorage.ExecutionStorage, (inner) => ({
          ...inner,
          writer: ExecutionStorage.writerFromCommit(inner.commit)
        }))
      ).pipe(Layer.provide(storage()))
      const result = await Effect.runPromise(
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          return yield* (yield* engine.start(oneStep, 21)).result
        }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layer.pipe(Layer.provide(wrapped))))
      )
      expect(result).toBe(42)
    }, 60_000)

    it("leaves the execution stored when its process is killed right after start returned", async () => {
      const child = startProcess(["--import", "tsx", starter, target(), synchronous], { cwd: root })
      let id: string
      try {
        id = (await child.line((line) => line.startsWith("started "), 60_000)).slice("started ".length)
      } finally {
        child.kill()
      }
      const exit = await child.exit()
      expect(exit.signal).toBe("SIGKILL")
      expectStarted(await stored(storage(), id))
    }, 120_000)
  })

describe("a start on SQLite FULL whose write fails", () => {
  it("fails with the storage's error, and stores nothing of the execution", async () => {
    const disk = join(dir, "full-disk")
    const file = join(disk, "start.db")
    const storage = ExecutionStorage.layerSqlite({ filename: file, synchronous: "FULL" })
    const oneStep = Workflow.make({
      name: "one-step",
      run: (n: number) => Workflow.step("double", Effect.succeed(n * 2))
    })
    await withTmpfs(disk, "2M", async () => {
      await Effect.runPromise(
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          expect(yield* (yield* engine.start(oneStep, 1)).result).toBe(2)
          // The disk fills up: the next start's write (its creation, its step, its end) cannot be made.
          fill(join(disk, "filler"))
          const failed = yield* Effect.flip(engine.start(oneStep, 2))
          expect(failed._tag).toBe("StorageError")
          // Nothing of it was stored: the only execution is the first.
          rmSync(join(disk, "filler"))
          const { executions } = yield* engine.executions()
          expect(executions.map((execution) => execution.status)).toEqual(["completed"])
          // With room again, starts work.
          expect(yield* (yield* engine.start(oneStep, 3)).result).toBe(6)
        }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(storage))))
      )
    })
  }, 60_000)
})

for (const synchronous of ["NORMAL", "FULL"] as const) {
  const file = join(dir, `${synchronous}.db`)
  startSuite(
    `SQLite ${synchronous}`,
    () => file,
    synchronous,
    () => ExecutionStorage.layerSqlite({ filename: file, synchronous })
  )
}
describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  const database = suiteDatabase()
  startSuite("PostgreSQL", () => database.url(), "FULL", () => ExecutionStorage.layerPg({ url: database.url() }))
})
