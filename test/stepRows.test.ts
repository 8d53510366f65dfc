/**
 * A step's end is stored in the log alone (`stepEndRows`, `guardedStepEnd`
 * in commitProgram.ts, `foldedStepEnd` in pgStepEnd.ts): on SQLite one b-tree page of WAL
 * per step where there were three, on PostgreSQL no update of the
 * execution's row; the step's journal entry read back from its row,
 * superseding the start its step journaled on its own; the execution's
 * `lastSeq` and `updatedAt` read from the log while it runs; and the next
 * commit that updates the row counting its seqs from the log.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"
import { pgUrl, suiteDatabase, testSession, whileHeld } from "./pg.js"
import { end, OWNER, running, start, stepCommit } from "./stepCommits.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-step-rows-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `db-${files++}.sqlite`)

const onFile = (filename: string) => ExecutionStorage.layerSqlite({ filename, backgroundCheckpoints: false })

const log = (message: string, timestamp: number): WorkflowEvent.WorkflowEvent => ({
  type: "log",
  timestamp,
  level: "info",
  message
})

/** The storages the tests below run on: a new SQLite file, or the suite's PostgreSQL database. */
type Fresh = () => Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>

const sqlite: Fresh = () => onFile(freshFile())
const postgres = pgUrl === undefined ? undefined : suiteDatabase()
const storages: ReadonlyArray<readonly [string, Fresh | undefined]> = [
  ["SQLite", sqlite],
  ["PostgreSQL", postgres === undefined ? undefined : () => ExecutionStorage.layerPg({ url: postgres.url() })]
]

let executions = 0
/** An execution id of its own per test: the PostgreSQL database is the suite's. */
const fresh = (name: string) => `${name}-${executions++}`

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
})

for (const [name, layer] of storages) {
  describe.skipIf(layer === undefined)(`a step's end in the log alone, ${name}`, () => {
    const on = () => layer!()

    it.effect("is journaled in its row, superseding its start journaled on its own", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("slow")
        yield* running(id)
        // A slow step's start is written on its own (held back no longer than a microtask), its end later.
        yield* storage.commit(id, {
          events: [start(0, 10)],
          journal: { key: "0", name: "step 0", kind: "step", state: "started" },
          owner: OWNER
        })
        yield* storage.commit(id, {
          events: [end(0, 20)],
          journal: {
            key: "0",
            name: "step 0",
            kind: "step",
            state: "completed",
            result: { _tag: "Success", value: 0 }
          },
          owner: OWNER
        })
        yield* storage.commit(id, stepCommit(1, 30))
        const journal = yield* storage.journal(id)
        expect([...journal].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
          { key: "0", name: "step 0", kind: "step", state: "completed", result: { _tag: "Success", value: 0 } },
          { key: "1", name: "step 1", kind: "step", state: "completed", result: { _tag: "Success", value: 1 } }
        ])
      }).pipe(Effect.provide(on())))

    it.effect("leaves lastSeq and updatedAt to the log while the execution runs; its end counts from the log", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("r")
        yield* running(id)
        const created = yield* storage.get(id)
        const later = created.updatedAt + 60_000
        yield* storage.commit(id, stepCommit(0, later))
        yield* storage.commit(id, stepCommit(1, later + 1))
        expect(yield* storage.get(id)).toMatchObject({ lastSeq: 4, updatedAt: later + 1 })
        const { executions } = yield* storage.list({ workflow: "w", limit: 1000 })
        expect(executions.find((record) => record.id === id)).toMatchObject({ lastSeq: 4, updatedAt: later + 1 })
        const seq = yield* storage.commit(id, {
          events: [{ type: "final_output", timestamp: later + 2, data: 1 }],
          status: "completed",
          output: 1,
          owner: OWNER
        })
        expect(seq).toBe(5)
        const done = yield* storage.get(id)
        expect(done).toMatchObject({ status: "completed", lastSeq: 5 })
        const events = yield* storage.events(id, { fromSeq: 1, limit: 10 })
        expect(events.map((event) => [event.seq, event.type])).toEqual([
          [1, "step_start"],
          [2, "step_end"],
          [3, "step_start"],
          [4, "step_end"],
          [5, "final_output"]
        ])
      }).pipe(Effect.provide(on())))

    it.effect("reads a running execution whose last event's timestamp is not a whole number", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("fraction")
        yield* running(id)
        const later = (yield* storage.get(id)).updatedAt + 60_000.5
        yield* storage.commit(id, stepCommit(0, later))
        expect(yield* storage.get(id)).toMatchObject({ lastSeq: 2, updatedAt: later })
        const { executions } = yield* storage.list({ workflow: "w", limit: 1000 })
        expect(executions.find((record) => record.id === id)).toMatchObject({ updatedAt: later })
      }).pipe(Effect.provide(on())))

    it.effect("is refused, and writes nothing, once another run holds the execution", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("taken")
        yield* running(id)
        yield* storage.commit(id, stepCommit(0, 1))
        yield* storage.release(id, OWNER)
        expect(yield* storage.claim(id, "run-2", 60_000)).toBe(true)
        const refused = yield* Effect.flip(storage.commit(id, stepCommit(1, 2)))
        expect(refused._tag).toBe("ExecutionNotOwned")
        expect((yield* storage.get(id)).lastSeq).toBe(2)
        expect((yield* storage.journal(id)).map((entry) => entry.key)).toEqual(["0"])
      }).pipe(Effect.provide(on())))
  })

  /**
   * Through a run's writer a step's end is one guarded statement, its own transaction (`guardedStepEnd` on
   * SQLite, which knows where the run's last write left the log; `foldedStepEnd` on PostgreSQL). Whatever
   * else is written to the log meanwhile, and whoever takes the execution, it stores what the program
   * would, or nothing.
   */
  describe.skipIf(layer === undefined)(`a step's end written by a run's writer, ${name}`, () => {
    const on = () => layer!()

    /** A writer of `OWNER` for `id`, open for the rest of the test's scope. */
    const writerOf = (id: string) =>
      Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.writer(id, { owner: OWNER }))

    it.scopedLive("keeps the log whole when others write to it between the run's steps", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("shared")
        yield* running(id)
        const writer = yield* writerOf(id)
        // Others write after some steps (one or two events, or none): the step after each must count from
        // the log, and the steps after that go on from where it left it.
        const others = [0, 1, 0, 0, 2, 1, 0, 0, 0, 1]
        const expected: Array<string> = []
        for (let i = 0; i < others.length; i++) {
          yield* writer.commit(stepCommit(i, 100 + i))
          expected.push(`step_start step ${i}`, `step_end step ${i}`)
          for (let j = 0; j < others[i]!; j++) {
            yield* storage.commit(id, { events: [log(`other ${i}.${j}`, 100 + i)] })
            expected.push(`log other ${i}.${j}`)
          }
        }
        const events = yield* storage.events(id, { fromSeq: 1, limit: 100 })
        expect(events.map((event) => event.seq)).toEqual(expected.map((_, i) => i + 1))
        expect(events.map((event) =>
          event.type === "log"
            ? `log ${event.message}`
            : `${event.type} ${"runnableName" in event ? event.runnableName : ""}`
        )).toEqual(expected)
        expect(
          (yield* storage.journal(id)).map((entry) => entry.key).sort((a, b) => Number(a) - Number(b))
        )
          .toEqual(others.map((_, i) => String(i)))
        expect((yield* storage.get(id)).lastSeq).toBe(expected.length)
      }).pipe(Effect.provide(on())))

    it.scopedLive("is refused, writing nothing, once the execution is another run's, finished, or its lease ran out", () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const ids = { taken: fresh("taken"), cancelled: fresh("cancelled"), expired: fresh("expired") }
        const refusals = {
          taken: Effect.zipRight(storage.release(ids.taken, OWNER), storage.claim(ids.taken, "run-2", 60_000)),
          cancelled: storage.commit(ids.cancelled, { events: [log("cancelled", 2)], status: "cancelled" }),
          expired: storage.claim(ids.expired, OWNER, 1)
        }
        const reasons: Record<string, string> = {}
        for (const [what, refuse] of Object.entries(refusals)) {
          const id = ids[what as keyof typeof ids]
          yield* running(id)
          const writer = yield* writerOf(id)
          yield* writer.commit(stepCommit(0, 1))
          yield* refuse
          // A lease of 1 ms has run out by the time the database's clock has moved past it.
          if (what === "expired") {
            const until = (yield* storage.get(id)).leaseUntil!
            while (Date.now() <= until + 1) yield* Effect.sleep("1 millis")
          }
          const before = yield* storage.events(id, { fromSeq: 1, limit: 10 })
          const refused = yield* Effect.flip(writer.commit(stepCommit(1, 3)))
          reasons[what] = refused._tag
          expect(yield* storage.events(id, { fromSeq: 1, limit: 10 })).toEqual(before)
          expect((yield* storage.journal(id)).map((entry) => entry.key)).toEqual(["0"])
        }
        expect(reasons).toEqual({
          taken: "ExecutionNotOwned",
          cancelled: "ExecutionFinished",
          expired: "ExecutionNotOwned"
        })
      }).pipe(Effect.provide(on())))
  })
}

/**
 * On PostgreSQL a step's end locks the execution's row `for share` and numbers its rows from the log as
 * its statement began; a commit that updates the row numbers from the row and the log as its statement
 * began. Each can wait for the other's lock: these tests hold another session's transaction open at that
 * point (what a concurrent cancel, signal or claim does to the row and the log), and let it commit while
 * the storage's commit waits.
 */
describe.skipIf(postgres === undefined)("a step's end and another commit at once, PostgreSQL", () => {
  const on = () => ExecutionStorage.layerPg({ url: postgres!.url() })

  const session = testSession(() => postgres!.url())

  const kinds = (id: string) =>
    Effect.map(
      Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.events(id, { fromSeq: 1, limit: 100 })),
      (events) => events.map((event) => `${event.seq} ${event.type}`)
    )

  it.scopedLive("a step's end leaves the execution's row and the journal table alone", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const observer = yield* session
      const id = fresh("alone")
      yield* running(id)
      const row = () =>
        Effect.promise(async () =>
          (await observer.query("select last_seq, updated_at from workflow_executions where id = $1", [id])).rows[0]
        )
      const before = yield* row()
      const created = Number(before.updated_at)
      const writer = yield* storage.writer(id, { owner: OWNER })
      yield* writer.commit(stepCommit(0, created + 1000))
      yield* writer.commit(stepCommit(1, created + 2000))
      expect(yield* row()).toEqual(before)
      const { rows } = yield* Effect.promise(() =>
        observer.query(
          `select (select count(*)::int from workflow_journal where execution_id = $1) as tabled,
                  array_agg(journal_key order by seq) filter (where journal_key is not null) as logged
             from workflow_events where execution_id = $1`,
          [id]
        )
      )
      expect(rows[0]).toEqual({ tabled: 0, logged: ["0", "1"] })
      expect(yield* storage.get(id)).toMatchObject({ lastSeq: 4, updatedAt: created + 2000 })
    }).pipe(Effect.provide(on())))

  it.scopedLive("resumes an execution whose steps were stored the earlier way, in the journal table", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const observer = yield* session
      const id = fresh("earlier")
      let bodies = 0
      const workflow = Workflow.make({
        name: `earlier-${id}`,
        run: (n: number) =>
          Effect.gen(function*() {
            let total = 0
            for (let i = 0; i < n; i++) total += yield* Workflow.step(`step ${i}`, Effect.sync(() => (bodies++, i)))
            return total
          })
      })
      yield* storage.create({ id, workflow: workflow.name, input: 5, status: "running" })
      // As every commit was stored before migration 10 (and a commit of no run still is): the row advanced,
      // the entries in the table.
      for (let i = 0; i < 3; i++) {
        const { owner: _, ...earlier } = stepCommit(i, i)
        yield* storage.commit(id, earlier)
      }
      const stored = () =>
        Effect.promise(async () =>
          (await observer.query(
            `select (select last_seq from workflow_executions where id = $1) as last_seq,
                    (select count(*)::int from workflow_journal where execution_id = $1) as tabled,
                    (select count(*)::int from workflow_events where execution_id = $1 and journal_key is not null)
                      as logged`,
            [id]
          )).rows[0]
        )
      expect(yield* stored()).toEqual({ last_seq: 6, tabled: 3, logged: 0 })
      // An engine that recovers resumes it: the three steps replayed from the table, the two others run and
      // stored in the log alone, numbered after the row's last seq.
      const output = yield* Effect.flatMap(
        WorkflowEngine.WorkflowEngine,
        (engine) => Effect.zipRight(engine.register(workflow), engine.result(id))
      ).pipe(Effect.provide(WorkflowEngine.layerWith({ recover: true })))
      expect(output).toBe(0 + 1 + 2 + 3 + 4)
      expect(bodies).toBe(2)
      const events = yield* storage.events(id, { fromSeq: 1, limit: 100 })
      expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1))
      expect(events.filter((event) => event.type === "step_end")).toHaveLength(5)
      expect((yield* storage.journal(id)).map((entry) => entry.key).sort()).toEqual(["0", "1", "2", "3", "4"])
      // Step 3's end in the log alone; step 4's with the outcome, a commit that updates the row.
      expect(yield* stored()).toMatchObject({ tabled: 4, logged: 1 })
    }).pipe(Effect.provide(on())))

  // The one statement's second try: its numbering, taken before it waited, is stale whatever the lock.
  it.scopedLive("a commit that waited for a step's end numbers its events after it", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const [other, observer] = [yield* session, yield* session]
      const id = fresh("after-step")
      yield* running(id)
      yield* storage.commit(id, stepCommit(0, 1))
      // What a run's step end does (pgStepEnd.ts, `foldedStepEnd`), its transaction held open.
      const exit = yield* whileHeld(other, observer, [
        ["select 1 from workflow_executions where id = $1 for share", [id]],
        [
          `insert into workflow_events (execution_id, seq, type, payload, journal_key, journal_name, journal_result)
           values ($1, 3, 'step_start', $2, null, null, null), ($1, 4, 'step_end', $3, '1', 'step 1', $4)`,
          [
            id,
            JSON.stringify(start(1, 2)),
            JSON.stringify(end(1, 2)),
            JSON.stringify({ _tag: "Success", value: 1 })
          ]
        ]
      ], storage.commit(id, { events: [log("cancelled", 3)], status: "cancelled" }))
      expect(exit._tag).toBe("Success")
      expect(yield* kinds(id)).toEqual(["1 step_start", "2 step_end", "3 step_start", "4 step_end", "5 log"])
      expect(yield* storage.get(id)).toMatchObject({ status: "cancelled", lastSeq: 5 })
      expect((yield* storage.journal(id)).map((entry) => entry.key).sort()).toEqual(["0", "1"])
    }).pipe(Effect.provide(on())))

  /** Another commit that updates the row (`set`) and stores a log event at seq 3, after the run's first step. */
  const withEvent = (set: string, message: string) => (id: string) =>
    [
      [`update workflow_executions set last_seq = 3${set} where id = $1`, [id]],
      ["insert into workflow_events (execution_id, seq, type, payload) values ($1, 3, 'log', $2)", [
        id,
        JSON.stringify(log(message, 2))
      ]]
    ] as const

  /**
   * What another commit does to the row and the log, and how the step's end that waited for it ends. The
   * first two wait on the log's key as much as on the row (the other session's event has the seq the end
   * numbered): they check the end's fallback. The claim writes no event: only the row's lock, taken to
   * share, makes the end wait for it and then see the row held by another engine.
   */
  const others = [
    {
      what: "an event from outside the run (a signal's, a child's)",
      statements: withEvent("", "outside"),
      stored: ["1 step_start", "2 step_end", "3 log", "4 step_start", "5 step_end"],
      refused: undefined
    },
    {
      what: "a cancel",
      statements: withEvent(", status = 'cancelled', owner = null", "cancelled"),
      stored: ["1 step_start", "2 step_end", "3 log"],
      refused: "ExecutionFinished"
    },
    {
      what: "a claim by another engine",
      statements: (id: string) => [["update workflow_executions set owner = 'run-2' where id = $1", [id]]] as const,
      stored: ["1 step_start", "2 step_end"],
      refused: "ExecutionNotOwned"
    }
  ]

  for (const { refused, statements, stored, what } of others) {
    it.scopedLive(`a step's end that waited for ${what} ${refused === undefined ? "goes after it" : "is refused"}`, () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const [other, observer] = [yield* session, yield* session]
        const id = fresh("waited")
        yield* running(id)
        const writer = yield* storage.writer(id, { owner: OWNER })
        yield* writer.commit(stepCommit(0, 1))
        // A writer's commit starts as it is made: made once the other transaction is open.
        const exit = yield* whileHeld(
          other,
          observer,
          statements(id),
          Effect.suspend(() => writer.commit(stepCommit(1, 3)))
        )
        if (refused === undefined) expect(exit._tag).toBe("Success")
        else expect(exit).toMatchObject({ _tag: "Failure", cause: { error: { _tag: refused } } })
        expect(yield* kinds(id)).toEqual(stored)
        const keys = (yield* storage.journal(id)).map((entry) => entry.key).sort()
        expect(keys).toEqual(refused === undefined ? ["0", "1"] : ["0"])
      }).pipe(Effect.provide(on())))
  }

  it.scopedLive(
    "keeps the log whole, and lets every other commit in, while the run steps back to back",
    () =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const id = fresh("busy")
        yield* running(id)
        const writer = yield* storage.writer(id, { owner: OWNER })
        // Another storage layer: its own pool, as another process's would be.
        const elsewhere = yield* Layer.build(on())
        const theirs = yield* Effect.provide(ExecutionStorage.ExecutionStorage, elsewhere)
        // The run's steps, one after another without a pause (the row is nearly always share-locked), until
        // the cancel refuses one.
        let stepped = 0
        const stepping = yield* Effect.fork(Effect.gen(function*() {
          while (true) {
            const exit = yield* Effect.exit(writer.commit(stepCommit(stepped, stepped)))
            if (exit._tag === "Failure") return exit
            stepped++
          }
        }))
        const received = (name: string, payload: unknown): WorkflowEvent.WorkflowEvent => ({
          type: "signal_received",
          timestamp: 1,
          name,
          payload
        })
        // Events, signals and children's ends from the other pool, each waited for: none may fail.
        const outside = 150
        for (let i = 0; i < outside; i++) {
          if (i % 3 === 0) {
            yield* theirs.commit(id, { events: [log(`outside ${i}`, i)] })
          } else if (i % 3 === 1) {
            yield* theirs.commit(id, { events: [received("s", i)], signal: { name: "s", payload: i } })
          } else {
            const child = `${id}-child-${i}`
            yield* theirs.create({
              id: child,
              workflow: "w",
              input: null,
              status: "running",
              parent: id,
              awaitedByParent: true,
              claim: { owner: "child-run", leaseMs: 60_000 }
            })
            yield* theirs.commit(child, {
              events: [log("child ends", i)],
              status: "completed",
              output: i,
              owner: "child-run",
              signalParent: { parent: id, name: `child:${child}`, payload: i, event: received(`child:${child}`, i) }
            })
          }
        }
        yield* theirs.commit(id, { events: [log("cancelled", outside)], status: "cancelled" })
        const stopped = yield* Fiber.join(stepping)
        expect(stopped).toMatchObject({ _tag: "Failure", cause: { error: { _tag: "ExecutionFinished" } } })
        const events = yield* storage.events(id, { fromSeq: 1, limit: 10_000 })
        // The race took place: the run stepped between the other pool's first and last commits.
        const others = events.filter((event) => event.type !== "step_start" && event.type !== "step_end")
        expect(events.slice(others[0]!.seq, others.at(-2)!.seq).some((event) => event.type === "step_end")).toBe(
          true
        )
        expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1))
        expect(events.filter((event) => event.type === "log")).toHaveLength(outside / 3 + 1)
        expect(events.filter((event) => event.type === "signal_received")).toHaveLength((outside / 3) * 2)
        expect(events.at(-1)).toMatchObject({ type: "log", message: "cancelled" })
        const ends = events.filter((event) => event.type === "step_end")
        expect(ends.map((event) => "runnableName" in event ? event.runnableName : "")).toEqual(
          Array.from({ length: stepped }, (_, i) => `step ${i}`)
        )
        // Each step's start right before its end: nothing came between them.
        for (const ended of ends) expect(events[ended.seq - 2]!.type).toBe("step_start")
        expect((yield* storage.journal(id)).length).toBe(stepped)
        expect(yield* storage.get(id)).toMatchObject({ status: "cancelled", lastSeq: events.length })
      }).pipe(Effect.provide(on())),
    120_000
  )
})
