/**
 * Schedules on every storage, on `TestClock` (which starts at the epoch):
 * ticks on time, two engines on one storage starting each tick once,
 * missed ticks after downtime under both policies, pause, resume, removal,
 * time zones, and every bad argument refused with nothing stored.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Cron, Effect, Exit, Layer, Schema, TestClock } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { ticksDue } from "../src/internal/engine/schedules.js"
import { breathe, startEngine, until } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

const MINUTE = 60_000
const iso = (ms: number) => new Date(ms).toISOString()

/** A workflow whose body records the execution it ran in, once per run. */
const ticked = (name: string) => {
  const ran: Array<string> = []
  const workflow = Workflow.make({
    name,
    input: Schema.Struct({ label: Schema.String }),
    run: (input) =>
      Effect.gen(function*() {
        const { executionId } = yield* Workflow.ExecutionContext
        yield* Workflow.step("record", Effect.sync(() => ran.push(executionId)))
        return input.label
      })
  })
  return { workflow, ran }
}

const executionsOf = (workflow: string) =>
  Effect.flatMap(
    ExecutionStorage.ExecutionStorage,
    (storage) => Effect.map(storage.list({ workflow, limit: 1_000 }), (page) => page.executions)
  )

const completed = (workflow: string, count: number) =>
  until(
    `${count} completed executions of ${workflow}`,
    Effect.map(executionsOf(workflow), (all) => all.filter((record) => record.status === "completed").length >= count)
  )

/** The schedules of one test (a durable storage keeps those of the others). */
const own = (engine: WorkflowEngine.WorkflowEngineService, ...names: ReadonlyArray<string>) =>
  Effect.map(engine.schedules, (all) => all.filter((schedule) => names.includes(schedule.name)))

/** Lets the loops run: a few real turns, so that nothing left to do is mistaken for nothing done. */
const settle = Effect.forEach(Array.from({ length: 20 }), () => breathe, { discard: true })

const scheduleSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`schedules on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.effect("starts one execution per tick, on time, named by the tick", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-every-five`)
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const stored = yield* engine.schedule({
          name: `${name}-five`,
          cron: "*/5 * * * *",
          workflow,
          input: { label: "tick" }
        })
        expect(stored).toMatchObject({ nextAt: 5 * MINUTE, paused: false, missed: "once", graceMs: MINUTE })
        yield* TestClock.adjust(4 * MINUTE)
        yield* settle
        expect(ran).toEqual([])
        yield* TestClock.adjust(MINUTE)
        yield* completed(workflow.name, 1)
        yield* TestClock.adjust(5 * MINUTE)
        yield* completed(workflow.name, 2)
        expect(ran).toEqual([`${name}-five@${iso(5 * MINUTE)}`, `${name}-five@${iso(10 * MINUTE)}`])
        const [schedule] = yield* own(engine, `${name}-five`)
        expect(schedule).toMatchObject({
          name: `${name}-five`,
          workflow: workflow.name,
          input: { label: "tick" },
          cron: "*/5 * * * *",
          nextAt: 15 * MINUTE,
          lastTick: 10 * MINUTE,
          lastExecution: `${name}-five@${iso(10 * MINUTE)}`
        })
        const result = yield* (yield* engine.handle(`${name}-five@${iso(5 * MINUTE)}`)).result
        expect(result).toBe("tick")
      })))

    it.effect("two engines on one storage start each tick once", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-shared`)
        const first = yield* startEngine({ lease: "10 minutes" })
        const second = yield* startEngine({ lease: "10 minutes" })
        yield* first.engine.register(workflow)
        yield* second.engine.register(workflow)
        yield* first.engine.schedule({ name: `${name}-shared`, cron: "* * * * *", workflow, input: { label: "x" } })
        for (let minute = 1; minute <= 3; minute++) {
          yield* TestClock.adjust(MINUTE)
          yield* completed(workflow.name, minute)
        }
        yield* settle
        expect(ran.slice().sort()).toEqual([1, 2, 3].map((minute) => `${name}-shared@${iso(minute * MINUTE)}`))
      })))

    it.effect("after downtime, runs the latest missed tick once (\"once\") or none (\"skip\")", () =>
      withStorage(Effect.gen(function*() {
        const once = ticked(`${name}-missed-once`)
        const skip = ticked(`${name}-missed-skip`)
        const before = yield* startEngine({ lease: "10 minutes" })
        yield* before.engine.schedule({
          name: `${name}-once`,
          cron: "*/5 * * * *",
          workflow: once.workflow,
          input: { label: "o" }
        })
        yield* before.engine.schedule({
          name: `${name}-skip`,
          cron: "*/5 * * * *",
          workflow: skip.workflow,
          input: { label: "s" },
          missed: "skip"
        })
        yield* before.stop
        // Down from 0:00 to 1:02: the ticks 0:05 to 1:00 were missed (more than a minute's grace late).
        yield* TestClock.adjust(62 * MINUTE)
        const after = yield* startEngine({ lease: "10 minutes" })
        yield* after.engine.register(once.workflow)
        yield* after.engine.register(skip.workflow)
        yield* completed(once.workflow.name, 1)
        yield* settle
        expect(once.ran).toEqual([`${name}-once@${iso(60 * MINUTE)}`])
        expect(skip.ran).toEqual([])
        const schedules = yield* own(after.engine, `${name}-once`, `${name}-skip`)
        expect(schedules.map((schedule) => [schedule.name, schedule.nextAt])).toEqual([
          [`${name}-once`, 65 * MINUTE],
          [`${name}-skip`, 65 * MINUTE]
        ])
        // Back on time: both tick at 1:05.
        yield* TestClock.adjust(3 * MINUTE)
        yield* completed(once.workflow.name, 2)
        yield* completed(skip.workflow.name, 1)
        expect(skip.ran).toEqual([`${name}-skip@${iso(65 * MINUTE)}`])
      })))

    it.effect("a tick a little late (within the grace) still starts", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-late`)
        const before = yield* startEngine({ lease: "10 minutes" })
        yield* before.engine.schedule({
          name: `${name}-late`,
          cron: "0 * * * *",
          workflow,
          input: { label: "l" },
          missed: "skip"
        })
        yield* before.stop
        yield* TestClock.adjust(60 * MINUTE + 30_000)
        const after = yield* startEngine({ lease: "10 minutes" })
        yield* after.engine.register(workflow)
        yield* completed(workflow.name, 1)
        expect(ran).toEqual([`${name}-late@${iso(60 * MINUTE)}`])
      })))

    it.effect("pauses, resumes from the next tick after now, replaces and removes", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-paused`)
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const scheduleName = `${name}-paused`
        yield* engine.schedule({ name: scheduleName, cron: "*/10 * * * *", workflow, input: { label: "p" } })
        yield* engine.pauseSchedule(scheduleName)
        expect((yield* own(engine, scheduleName))[0]?.paused).toBe(true)
        // Ticks while paused are not missed ones: none of them starts on resume.
        yield* TestClock.adjust(35 * MINUTE)
        yield* settle
        expect(ran).toEqual([])
        // Declared again as it was: still paused, and in its place.
        yield* engine.schedule({ name: scheduleName, cron: "*/10 * * * *", workflow, input: { label: "p" } })
        expect((yield* own(engine, scheduleName))[0]).toMatchObject({ paused: true, nextAt: 10 * MINUTE })
        // Declared again unpaused: as a resume, from the first tick after now (none of the paused ones).
        yield* engine.schedule({
          name: scheduleName,
          cron: "*/10 * * * *",
          workflow,
          input: { label: "p" },
          paused: false
        })
        expect((yield* own(engine, scheduleName))[0]).toMatchObject({ paused: false, nextAt: 40 * MINUTE })
        yield* engine.pauseSchedule(scheduleName)
        yield* engine.resumeSchedule(scheduleName)
        expect((yield* own(engine, scheduleName))[0]).toMatchObject({ paused: false, nextAt: 40 * MINUTE })
        yield* TestClock.adjust(5 * MINUTE)
        yield* completed(workflow.name, 1)
        expect(ran).toEqual([`${scheduleName}@${iso(40 * MINUTE)}`])
        // Replaced: the new expression and input, from the next tick after now.
        const replaced = yield* engine.schedule({
          name: scheduleName,
          cron: "*/15 * * * *",
          workflow,
          input: { label: "q" }
        })
        expect(replaced).toMatchObject({ cron: "*/15 * * * *", nextAt: 45 * MINUTE, input: { label: "q" } })
        expect((yield* own(engine, scheduleName)).length).toBe(1)
        yield* engine.unschedule(scheduleName)
        expect(yield* own(engine, scheduleName)).toEqual([])
        yield* TestClock.adjust(20 * MINUTE)
        yield* settle
        expect(ran.length).toBe(1)
        for (const call of [engine.pauseSchedule, engine.resumeSchedule, engine.unschedule]) {
          const missing = yield* Effect.flip(call(scheduleName))
          expect(missing).toMatchObject({ _tag: "ScheduleNotFound", schedule: scheduleName })
        }
      })))

    it.effect("an engine that recovers nothing ticks nothing (a reading command's); one that recovers does", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-reader`)
        const reader = yield* startEngine({ lease: "10 minutes", recover: false })
        yield* reader.engine.schedule({ name: `${name}-reader`, cron: "* * * * *", workflow, input: { label: "r" } })
        yield* TestClock.adjust(3.5 * MINUTE)
        yield* settle
        expect(ran).toEqual([])
        const worker = yield* startEngine({ lease: "10 minutes" })
        yield* worker.engine.register(workflow)
        yield* completed(workflow.name, 2)
        // At 3:30, 1:00 and 2:00 were missed (more than the minute's grace late): the latest of them runs,
        // once; 3:00 is on time.
        expect(ran.slice().sort()).toEqual([2, 3].map((minute) => `${name}-reader@${iso(minute * MINUTE)}`))
      })))

    it.effect("passes over a tick whose start is refused for good, and goes on ticking", () =>
      withStorage(Effect.gen(function*() {
        const { ran, workflow } = ticked(`${name}-blocked`)
        const squatter = Workflow.make({ name: `${name}-squatter`, run: () => Effect.void })
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const scheduleName = `${name}-blocked`
        yield* engine.schedule({ name: scheduleName, cron: "* * * * *", workflow, input: { label: "b" } })
        // The first tick's id is taken by another workflow's execution: its start is an ExecutionIdConflict.
        yield* engine.start(squatter, null, { executionId: `${scheduleName}@${iso(MINUTE)}` })
        yield* TestClock.adjust(MINUTE)
        yield* settle
        yield* TestClock.adjust(MINUTE)
        yield* completed(workflow.name, 1)
        expect(ran).toEqual([`${scheduleName}@${iso(2 * MINUTE)}`])
      })))

    it.effect("reads the expression in its time zone", () =>
      withStorage(Effect.gen(function*() {
        const { workflow } = ticked(`${name}-zoned`)
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        // 9:00 in New York on 1 January 1970 (EST, UTC-5) is 14:00 UTC.
        const stored = yield* engine.schedule({
          name: `${name}-zoned`,
          cron: "0 9 * * *",
          timezone: "America/New_York",
          workflow,
          input: { label: "z" }
        })
        expect(stored.nextAt).toBe(14 * 60 * MINUTE)
        expect(stored.timezone).toBe("America/New_York")
      })))

    it.effect("refuses bad arguments with a typed error naming them, and stores nothing", () =>
      withStorage(Effect.gen(function*() {
        const { workflow } = ticked(`${name}-refused`)
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const base = { name: `${name}-refused`, cron: "* * * * *", workflow, input: { label: "r" } }
        const refused = (options: Partial<typeof base> & Record<string, unknown>) =>
          Effect.flip(engine.schedule({ ...base, ...options } as typeof base))
        expect(yield* refused({ cron: "61 * * * *" })).toMatchObject({ _tag: "InvalidOption", option: "cron" })
        expect(yield* refused({ cron: "x".repeat(10_000) })).toMatchObject({ _tag: "InvalidOption", option: "cron" })
        expect(yield* refused({ cron: "0 0 30 2 *" })).toMatchObject({ _tag: "InvalidOption", option: "cron" })
        expect(yield* refused({ timezone: "Nowhere/Special" })).toMatchObject({
          _tag: "InvalidOption",
          option: "timezone"
        })
        expect(yield* refused({ missed: "all" })).toMatchObject({ _tag: "InvalidOption", option: "missed" })
        expect(yield* refused({ grace: -1 })).toMatchObject({ _tag: "InvalidOption", option: "grace" })
        expect(yield* refused({ name: "a\u0000b" })).toMatchObject({ _tag: "InvalidOption", option: "name" })
        expect(yield* refused({ input: { label: 3 } as never })).toMatchObject({ _tag: "InvalidInput" })
        const unknown = yield* Effect.flip(engine.schedule({ ...base, workflow: "no-such-workflow" }))
        expect(unknown).toMatchObject({ _tag: "WorkflowNotFound" })
        expect(yield* own(engine, base.name, "a\u0000b")).toEqual([])
      })))
  })

describe("ticks around a time zone's clock changes", () => {
  const zones = ["Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe"]
  const expressions = ["30 2 * * *", "30 1 * * *", "0 * * * *", "0 0 * * *", "*/15 * * * *", "0 3 * * 0"]
  // Days around the 2025 changes of each zone (spring forward and fall back, north and south).
  const days = ["2025-03-09", "2025-03-30", "2025-04-06", "2025-09-07", "2025-10-05", "2025-10-26", "2025-11-02"]
  const HOUR = 3_600_000

  it("always answers, only with ticks in order and no later than now, and a next tick after now", () => {
    for (const timezone of zones) {
      for (const expression of expressions) {
        const cron = Cron.unsafeParse(expression, timezone)
        for (const day of days) {
          for (let hour = -6; hour <= 30; hour += 1.25) {
            const now = Date.parse(`${day}T00:00:00Z`) + hour * HOUR
            for (const lateBy of [0, 2 * 60_000, 3 * HOUR, 2 * 24 * HOUR]) {
              for (const missed of ["once", "skip"] as const) {
                const schedule = { nextAt: now - lateBy, graceMs: 60_000, missed } as ExecutionStorage.ScheduleRecord
                const { next, ticks } = ticksDue(cron, schedule, now)
                const where = `${expression} in ${timezone}, now ${new Date(now).toISOString()}, late ${lateBy}`
                expect(next, where).toBeGreaterThan(now)
                for (let i = 0; i < ticks.length; i++) {
                  expect(ticks[i]!, where).toBeLessThanOrEqual(now)
                  if (i > 0) expect(ticks[i]!, where).toBeGreaterThan(ticks[i - 1]!)
                }
                if (missed === "skip") {
                  for (const tick of ticks) expect(tick, where).toBeGreaterThanOrEqual(now - 60_000)
                }
              }
            }
          }
        }
      }
    }
  }, 120_000)
})

onEveryStorage(scheduleSuite)

describe("a schedule that cannot be read", () => {
  it.effect("leaves the others to be set, paused, resumed and removed", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "workflow-schedules-bad-"))
      const filename = join(dir, "bad.db")
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const { workflow } = ticked("readable")
      const storage = yield* Layer.build(ExecutionStorage.layerSqlite({ filename }))
      const engine = yield* WorkflowEngine.make({ recover: false }).pipe(Effect.provide(storage))
      for (const name of ["broken", "sound"]) {
        yield* engine.schedule({ name, cron: "0 * * * *", workflow, input: { label: name } })
      }
      // Damaged outside the engine: its input is no longer JSON.
      const db = new Database(filename)
      db.prepare("update workflow_schedules set input = '{not json' where name = 'broken'").run()
      db.close()
      yield* engine.pauseSchedule("sound")
      yield* engine.resumeSchedule("sound")
      const again = yield* engine.schedule({ name: "sound", cron: "0 * * * *", workflow, input: { label: "again" } })
      expect(again).toMatchObject({ name: "sound", input: { label: "again" }, paused: false })
      // The damaged one is named where it is read.
      expect(yield* Effect.flip(engine.resumeSchedule("broken"))).toMatchObject({ _tag: "StorageError" })
      expect((yield* Effect.flip(engine.schedules)).message).toContain(`schedule "broken"`)
      yield* engine.unschedule("sound")
    }).pipe(Effect.scoped))
})

describe("schedules on a storage without them", () => {
  it.effect("refuses to schedule, and lists none", () =>
    Effect.gen(function*() {
      const memory = yield* ExecutionStorage.ExecutionStorage
      const { schedules: _none, ...without } = memory
      const engine = yield* WorkflowEngine.make().pipe(
        Effect.provideService(ExecutionStorage.ExecutionStorage, without)
      )
      const { workflow } = ticked("no-schedules")
      const exit = yield* Effect.exit(engine.schedule({ name: "n", cron: "* * * * *", workflow, input: { label: "" } }))
      expect(exit).toMatchObject(Exit.fail(expect.objectContaining({ _tag: "InvalidOption", option: "schedule" })))
      expect(yield* engine.schedules).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})
