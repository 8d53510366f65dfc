/**
 * A step's end on SQLite is stored in the log alone (`stepEndRows` in
 * commitProgram.ts): one b-tree page of WAL per step where there were three;
 * the step's journal entry read back from its row, superseding the start
 * its step journaled on its own; the execution's `lastSeq` and `updatedAt`
 * read from the log while it runs; and the next commit that updates the
 * row counting its seqs from the log.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutionStorage } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-step-rows-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `db-${files++}.sqlite`)

const OWNER = "run-1"

const start = (i: number, timestamp: number): WorkflowEvent.WorkflowEvent => ({
  type: "step_start",
  timestamp,
  runnableName: `step ${i}`
})

const end = (i: number, timestamp: number): WorkflowEvent.WorkflowEvent => ({
  type: "step_end",
  timestamp,
  runnableName: `step ${i}`,
  durationMs: 0,
  output: i
})

/** What a run commits for step `i` that ends at once: its start and end, journaled completed. */
const stepCommit = (i: number, timestamp: number): ExecutionStorage.Commit => ({
  events: [start(i, timestamp), end(i, timestamp)],
  journal: {
    key: String(i),
    name: `step ${i}`,
    kind: "step",
    state: "completed",
    result: { _tag: "Success", value: i }
  },
  owner: OWNER
})

/** A running execution held by `OWNER`, on a storage over `filename` (checkpoints left to the test). */
const running = (id: string) =>
  Effect.flatMap(
    ExecutionStorage.ExecutionStorage,
    (storage) =>
      storage.create({ id, workflow: "w", input: null, status: "running", claim: { owner: OWNER, leaseMs: 60_000 } })
  )

const onFile = (filename: string) => ExecutionStorage.layerSqlite({ filename, backgroundCheckpoints: false })

const WAL_HEADER = 32
const FRAME = 24 + 4096

describe("a step's end on SQLite", () => {
  it.effect("writes one page of WAL", () => {
    const filename = freshFile()
    return Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* running("e")
      yield* storage.commit("e", stepCommit(0, 1))
      const frames = () => (statSync(`${filename}-wal`).size - WAL_HEADER) / FRAME
      const before = frames()
      const steps = 60
      for (let i = 1; i <= steps; i++) yield* storage.commit("e", stepCommit(i, 1 + i))
      // One page a step, and a few more when a leaf fills up and splits; three b-trees a step wrote three.
      expect((frames() - before) / steps).toBeLessThan(2)
      expect((yield* storage.get("e")).lastSeq).toBe(2 * (steps + 1))
    }).pipe(Effect.provide(onFile(filename)))
  })

  it.effect("is journaled in its row, superseding its start journaled on its own", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* running("slow")
      // A slow step's start is written on its own (held back no longer than a microtask), its end later.
      yield* storage.commit("slow", {
        events: [start(0, 10)],
        journal: { key: "0", name: "step 0", kind: "step", state: "started" },
        owner: OWNER
      })
      yield* storage.commit("slow", {
        events: [end(0, 20)],
        journal: { key: "0", name: "step 0", kind: "step", state: "completed", result: { _tag: "Success", value: 0 } },
        owner: OWNER
      })
      yield* storage.commit("slow", stepCommit(1, 30))
      const journal = yield* storage.journal("slow")
      expect([...journal].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: "0", name: "step 0", kind: "step", state: "completed", result: { _tag: "Success", value: 0 } },
        { key: "1", name: "step 1", kind: "step", state: "completed", result: { _tag: "Success", value: 1 } }
      ])
    }).pipe(Effect.provide(onFile(freshFile()))))

  it.effect("leaves lastSeq and updatedAt to the log while the execution runs; its end counts from the log", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* running("r")
      const created = yield* storage.get("r")
      const later = created.updatedAt + 60_000
      yield* storage.commit("r", stepCommit(0, later))
      yield* storage.commit("r", stepCommit(1, later + 1))
      expect(yield* storage.get("r")).toMatchObject({ lastSeq: 4, updatedAt: later + 1 })
      const { executions } = yield* storage.list({ workflow: "w" })
      expect(executions.find((record) => record.id === "r")).toMatchObject({ lastSeq: 4, updatedAt: later + 1 })
      const seq = yield* storage.commit("r", {
        events: [{ type: "final_output", timestamp: later + 2, data: 1 }],
        status: "completed",
        output: 1,
        owner: OWNER
      })
      expect(seq).toBe(5)
      const done = yield* storage.get("r")
      expect(done).toMatchObject({ status: "completed", lastSeq: 5 })
      const events = yield* storage.events("r", { fromSeq: 1, limit: 10 })
      expect(events.map((event) => [event.seq, event.type])).toEqual([
        [1, "step_start"],
        [2, "step_end"],
        [3, "step_start"],
        [4, "step_end"],
        [5, "final_output"]
      ])
    }).pipe(Effect.provide(onFile(freshFile()))))

  it.effect("is refused, and writes nothing, once another run holds the execution", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* running("taken")
      yield* storage.commit("taken", stepCommit(0, 1))
      yield* storage.release("taken", OWNER)
      expect(yield* storage.claim("taken", "run-2", 60_000)).toBe(true)
      const refused = yield* Effect.flip(storage.commit("taken", stepCommit(1, 2)))
      expect(refused._tag).toBe("ExecutionNotOwned")
      expect((yield* storage.get("taken")).lastSeq).toBe(2)
      expect((yield* storage.journal("taken")).map((entry) => entry.key)).toEqual(["0"])
    }).pipe(Effect.provide(onFile(freshFile()))))
})

/**
 * Through a run's writer, which knows where its last write left the log, a step's end is one guarded
 * insert (`guardedStepEnd`), its own transaction. Whatever else is written to the log meanwhile, and
 * whoever takes the execution, it stores what the program would, or nothing.
 */
describe("a step's end written by a run that knows where its log ended", () => {
  /** A writer of `OWNER` for `id`, open for the rest of the test's scope. */
  const writerOf = (id: string) =>
    Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.writer(id, { owner: OWNER }))

  const log = (message: string, timestamp: number): WorkflowEvent.WorkflowEvent => ({
    type: "log",
    timestamp,
    level: "info",
    message
  })

  it.scopedLive("keeps the log whole when others write to it between the run's steps", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      yield* running("shared")
      const writer = yield* writerOf("shared")
      // Others write after some steps (one or two events, or none): the step after each must count from
      // the log, and the steps after that go on from where it left it.
      const others = [0, 1, 0, 0, 2, 1, 0, 0, 0, 1]
      const expected: Array<string> = []
      for (let i = 0; i < others.length; i++) {
        yield* writer.commit(stepCommit(i, 100 + i))
        expected.push(`step_start step ${i}`, `step_end step ${i}`)
        for (let j = 0; j < others[i]!; j++) {
          yield* storage.commit("shared", { events: [log(`other ${i}.${j}`, 100 + i)] })
          expected.push(`log other ${i}.${j}`)
        }
      }
      const events = yield* storage.events("shared", { fromSeq: 1, limit: 100 })
      expect(events.map((event) => event.seq)).toEqual(expected.map((_, i) => i + 1))
      expect(events.map((event) =>
        event.type === "log"
          ? `log ${event.message}`
          : `${event.type} ${"runnableName" in event ? event.runnableName : ""}`
      )).toEqual(expected)
      expect(
        (yield* storage.journal("shared")).map((entry) => entry.key).sort((a, b) => Number(a) - Number(b))
      )
        .toEqual(others.map((_, i) => String(i)))
      expect((yield* storage.get("shared")).lastSeq).toBe(expected.length)
    }).pipe(Effect.provide(onFile(freshFile()))))

  it.scopedLive("is refused, writing nothing, once the execution is another run's, finished, or its lease ran out", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const refusals = {
        taken: Effect.zipRight(storage.release("taken", OWNER), storage.claim("taken", "run-2", 60_000)),
        cancelled: storage.commit("cancelled", { events: [log("cancelled", 2)], status: "cancelled" }),
        expired: storage.claim("expired", OWNER, 1)
      }
      const reasons: Record<string, string> = {}
      for (const [id, refuse] of Object.entries(refusals)) {
        yield* running(id)
        const writer = yield* writerOf(id)
        yield* writer.commit(stepCommit(0, 1))
        yield* refuse
        // A lease of 1 ms has run out by the time the database's clock has moved past it.
        if (id === "expired") {
          const until = (yield* storage.get(id)).leaseUntil!
          while (Date.now() <= until + 1) yield* Effect.sleep("1 millis")
        }
        const before = yield* storage.events(id, { fromSeq: 1, limit: 10 })
        const refused = yield* Effect.flip(writer.commit(stepCommit(1, 3)))
        reasons[id] = refused._tag
        expect(yield* storage.events(id, { fromSeq: 1, limit: 10 })).toEqual(before)
        expect((yield* storage.journal(id)).map((entry) => entry.key)).toEqual(["0"])
      }
      expect(reasons).toEqual({
        taken: "ExecutionNotOwned",
        cancelled: "ExecutionFinished",
        expired: "ExecutionNotOwned"
      })
    }).pipe(Effect.provide(onFile(freshFile()))))
})
