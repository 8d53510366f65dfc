/**
 * A log short of its record: an execution whose record says its log goes on to a seq that storage holds
 * no event for (rows deleted or damaged outside the engine). Reading again can never find them, so a
 * watcher that did would read for ever, at full speed. Every watcher (one reading a finished execution on
 * its own, the shared tail of an unfinished one and the subscribers it feeds) fails instead, with a
 * `StorageError` naming the execution and the seqs, and what is stored stays as it was.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Cause, Chunk, Effect, Exit, Layer, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-short-log-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

const steps = Workflow.make({
  name: "short-log-steps",
  run: (n: number) =>
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Workflow.step(`s${i}`, Effect.succeed(i))
      return n
    })
})

/** Steps, then a wait for approval: the execution stays unfinished. */
const waiting = Workflow.make({
  name: "short-log-waiting",
  run: (n: number) =>
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Workflow.step(`s${i}`, Effect.succeed(i))
      return yield* Workflow.approval({ taskId: "go", message: "go on?", dataForApproval: null })
    })
})

/** An engine over a SQLite file of its own: the file, to cut its log, and the layer. */
const onFreshFile = () => {
  const filename = join(dir, `${files++}.db`)
  return { filename, layer: Layer.provideMerge(WorkflowEngine.layer, ExecutionStorage.layerSqlite({ filename })) }
}

/** The seqs of the events collected. */
const seqsOf = (events: Chunk.Chunk<{ readonly seq: number }>) => Chunk.toReadonlyArray(events).map(({ seq }) => seq)

/** Deletes the events of `id` from seq `from` on, behind the engine's back. */
const cutLog = (filename: string, id: string, from: number) => {
  const db = new Database(filename)
  try {
    return db.prepare(
      `delete from workflow_events
        where log_key = (select log_key from workflow_executions where id = ?) and seq >= ?`
    ).run(id, from).changes
  } finally {
    db.close()
  }
}

/** The failure a watcher's stream ended with: it must end (a watcher that reads for ever times the test out). */
const failureOf = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.map(Effect.exit(Stream.runCollect(stream)), (exit) => {
    expect(Exit.isFailure(exit)).toBe(true)
    return Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
  })

const expectShort = (failure: unknown, id: string, from: number, lastSeq: number) => {
  expect(failure).toMatchObject({ _tag: "Some", value: { _tag: "StorageError", operation: "events" } })
  const reason = (failure as { value: { reason: string } }).value.reason
  expect(reason).toContain(id)
  expect(reason).toContain(`seq ${from}`)
  expect(reason).toContain(`seq ${lastSeq}`)
}

/**
 * The memory storage, whose first read of a log answers nothing though the record says events are stored:
 * as a read racing a commit does (the commit lands between the read and the record's read).
 */
const missingOnce = Layer.effect(
  ExecutionStorage.ExecutionStorage,
  Effect.map(ExecutionStorage.ExecutionStorage, (storage): ExecutionStorage.ExecutionStorageService => {
    let missed = false
    return {
      ...storage,
      events: (id, options) => {
        if (missed) return storage.events(id, options)
        missed = true
        return Effect.succeed([])
      }
    }
  })
).pipe(Layer.provide(ExecutionStorage.layerMemory))

describe("a log short of its record", () => {
  it.live(
    "is not taken for one: a read that missed what the record has, read again, finds it",
    () =>
      Effect.gen(function*() {
        const layer = Layer.provideMerge(WorkflowEngine.layer, missingOnce)
        yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          // Unfinished: the shared tail's reader makes the first read.
          const handle = yield* engine.start(waiting, 2)
          const seen = yield* Stream.runCollect(
            Stream.takeUntil(handle.events, (event) => event.type === "human_approval_required")
          )
          const { lastSeq } = yield* engine.status(handle.id)
          expect(seqsOf(seen)).toEqual(
            Array.from({ length: lastSeq }, (_, i) => i + 1)
          )
        }).pipe(Effect.provide(layer))
        yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          // Finished: the stream reads on its own.
          const handle = yield* engine.start(steps, 3)
          expect(yield* handle.result).toBe(3)
          const seen = yield* Stream.runCollect(engine.events(handle.id))
          expect(seqsOf(seen)).toEqual([1, 2, 3, 4, 5, 6, 7])
        }).pipe(Effect.provide(layer))
      }),
    60_000
  )

  it.live("fails the streams of a finished execution, which read it on their own", () =>
    Effect.gen(function*() {
      const { filename, layer } = onFreshFile()
      const id = yield* Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const handle = yield* engine.start(steps, 5)
        expect(yield* handle.result).toBe(5)
        return handle.id
      }).pipe(Effect.provide(layer))
      // The record says 11 events (5 steps' starts and ends, then the output); the last 3 are gone.
      expect(cutLog(filename, id, 9)).toBe(3)
      yield* Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const { lastSeq, status } = yield* engine.status(id)
        expect({ lastSeq, status }).toEqual({ lastSeq: 11, status: "completed" })
        expectShort(yield* failureOf(engine.events(id)), id, 9, 11)
        // From a seq of its own, and from a handle: the same.
        expectShort(yield* failureOf(engine.events(id, { fromSeq: 10 })), id, 10, 11)
        const handle = yield* engine.handle(id)
        expectShort(yield* failureOf(handle.events), id, 9, 11)
        // What is stored before the cut is read as it was, and the result is untouched.
        const first = yield* Stream.runCollect(Stream.take(engine.events(id), 8))
        expect(seqsOf(first)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        expect(yield* handle.result).toBe(5)
      }).pipe(Effect.provide(layer))
    }), 60_000)

  it.live(
    "fails the shared tail of an unfinished execution, and every subscriber it feeds",
    () =>
      Effect.gen(function*() {
        const { filename, layer } = onFreshFile()
        const id = yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handle = yield* engine.start(waiting, 3)
          // Wait for the approval's request: the run is then suspended, nothing more is written.
          yield* Stream.runDrain(Stream.takeUntil(handle.events, (event) => event.type === "human_approval_required"))
          return handle.id
        }).pipe(Effect.provide(layer))
        yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const { lastSeq, status } = yield* engine.status(id)
          expect(status).toBe("waiting")
          expect(cutLog(filename, id, lastSeq - 1)).toBe(2)
          const failures = yield* Effect.forEach(
            Array.from({ length: 3 }),
            () => failureOf(engine.events(id)),
            { concurrency: "unbounded" }
          )
          for (const failure of failures) expectShort(failure, id, lastSeq - 1, lastSeq)
          expect((yield* engine.status(id)).status).toBe("waiting")
        }).pipe(Effect.provide(layer))
      }),
    60_000
  )
})
