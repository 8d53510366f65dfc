/**
 * Schedules: workflows started at the ticks of a cron expression. They are
 * stored, so every engine with the workflow registered ticks them; a tick's
 * execution id is made of the schedule's name and the tick's time, so that
 * engines ticking at once (or one retrying after a crash) start it once.
 * Each engine's loop waits until the next tick on its `Clock` (`TestClock`
 * drives it), or until told of a change here, or at most `poll`.
 */
import type * as Clock from "effect/Clock"
import * as Cron from "effect/Cron"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { ExecutionStorageService, ScheduleRecord, ScheduleStore } from "../../ExecutionStorage.js"
import type * as Workflow from "../../Workflow.js"
import type { ScheduleOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import { Signal } from "../notifier.js"
import { InvalidOption, positiveDuration, ScheduleNotFound, storableId } from "./errors.js"
import type { Registry } from "./registry.js"
import { validInput } from "./starting.js"

/** Longer expressions are refused before they are parsed. */
const MAX_EXPRESSION = 256
/** At most this many on-time ticks of one schedule started in one round (the rest are late by then). */
const MAX_TICKS = 100

/** The execution id of a schedule's tick. */
export const tickId = (name: string, tick: number): string => `${name}@${new Date(tick).toISOString()}`

/** The schedule's expression, read in its time zone. */
const cronOf = (expression: string, timezone: string | undefined) =>
  expression.length > MAX_EXPRESSION
    ? Either.left(`an expression of at most ${MAX_EXPRESSION} characters`)
    : Either.mapLeft(Cron.parse(expression, timezone), (error) => error.message)

/** `Cron.next` throws when no date matches within its search (as for February 30th). */
const attempt = <A>(f: () => A): Either.Either<A, string> => {
  try {
    return Either.right(f())
  } catch (error) {
    return Either.left(error instanceof Error ? error.message : String(error))
  }
}

/** Searches tried past a date `Cron.next` answers wrongly (around a time zone's clock change). */
const MAX_STEPS = 40

/**
 * The first tick strictly after `at`. `Cron.next` may answer a date that is not after its start around a
 * clock change (the repeated hour); then the search starts again further on.
 */
const after = (cron: Cron.Cron, at: number): number => {
  let from = at
  for (let step = 0; step < MAX_STEPS; step++) {
    const tick = Cron.next(cron, from).getTime()
    if (tick > at) return tick
    // A second further, then two, four...: past a repeated hour in a dozen steps.
    from = Math.max(from, tick) + 1000 * 2 ** Math.min(step, 20)
  }
  throw new Error(`no tick after ${new Date(at).toISOString()} found`)
}

/** Spans looked back over for the latest missed tick: a minute, an hour, a day, a month, a year, ten. */
const LOOK_BACK = [60_000, 3_600_000, 86_400_000, 31 * 86_400_000, 366 * 86_400_000, 3_660 * 86_400_000]

/**
 * The last tick at or after `from` and before `before`, if any, found by walking forward with `after` only
 * (`Cron.prev` loops or throws around some clock changes): first over the shortest span back from `before`
 * that holds one, then tick by tick within it.
 */
const lastBefore = (cron: Cron.Cron, from: number, before: number): number | undefined => {
  for (const span of LOOK_BACK) {
    const start = Math.max(from, before - span)
    let tick = after(cron, start - 1)
    if (tick >= before) {
      if (start === from) return undefined
      continue
    }
    let last = tick
    for (let step = 0; step < 100_000; step++) {
      tick = after(cron, last)
      if (tick >= before) break
      last = tick
    }
    return last
  }
  return undefined
}

/**
 * What a schedule due at `now` starts, and its next tick after. A tick reached more than `graceMs` after
 * its time was missed: missed ticks are dropped, or (`missed: "once"`) the latest of them starts. Ticks
 * within the grace all start.
 */
export const ticksDue = (cron: Cron.Cron, schedule: ScheduleRecord, now: number) => {
  const onTimeFrom = now - schedule.graceMs
  const ticks: Array<number> = []
  if (schedule.nextAt < onTimeFrom && schedule.missed === "once") {
    const missed = lastBefore(cron, schedule.nextAt, onTimeFrom)
    if (missed !== undefined) ticks.push(missed)
  }
  let tick = schedule.nextAt >= onTimeFrom ? schedule.nextAt : after(cron, onTimeFrom - 1)
  while (tick <= now && ticks.length < MAX_TICKS) {
    ticks.push(tick)
    tick = after(cron, tick)
  }
  return { ticks, next: tick > now ? tick : after(cron, now) }
}

/** The options checked (each bad one an `InvalidOption` naming it), with the first tick after `now`. */
const checked = (
  store: ScheduleStore | undefined,
  options: ScheduleOptions,
  now: number
) =>
  Effect.gen(function*() {
    if (store === undefined) {
      return yield* new InvalidOption({
        option: "schedule",
        value: JSON.stringify(options.name),
        expected: "a storage with schedules (memory, SQLite, PostgreSQL; a storage of your own needs schedules)"
      })
    }
    const name = yield* storableId("name", options.name)
    const cron = cronOf(options.cron, options.timezone)
    if (Either.isLeft(cron)) {
      const option = options.timezone !== undefined && cron.left.includes("time zone") ? "timezone" : "cron"
      return yield* new InvalidOption({
        option,
        value: JSON.stringify(option === "cron" ? options.cron : options.timezone),
        expected: `a cron expression with a valid time zone (${cron.left})`
      })
    }
    const first = attempt(() => after(cron.right, now))
    if (Either.isLeft(first)) {
      return yield* new InvalidOption({
        option: "cron",
        value: JSON.stringify(options.cron),
        expected: `an expression with a next date (${first.left})`
      })
    }
    const missed = options.missed ?? "once"
    if (missed !== "skip" && missed !== "once") {
      return yield* new InvalidOption({ option: "missed", value: JSON.stringify(missed), expected: "skip or once" })
    }
    const grace = yield* positiveDuration("grace", options.grace ?? "1 minute")
    return { store, name, missed, graceMs: Duration.toMillis(grace), nextAt: first.right }
  })

export interface SchedulesOptions {
  readonly storage: ExecutionStorageService
  readonly registry: Registry
  readonly clock: Clock.Clock
  readonly poll: Duration.Duration
  readonly register: WorkflowEngineService["register"]
  /** Whether this engine ticks schedules (one that recovers nothing, such as a reading command's, does not). */
  readonly ticks: boolean
  readonly start: (name: string, input: unknown, options: { readonly executionId: string }) => Effect.Effect<
    unknown,
    unknown
  >
}

/** Failures of a tick's start that would be the same on every retry. */
const refusedForGood = new Set(["ExecutionIdConflict", "InvalidInput", "InvalidOption", "WorkflowNotFound"])

/**
 * Starts a due schedule's ticks and moves it to its next tick: false when that could not be done now (it
 * is tried again after `poll`).
 */
const tick = (
  { registry, start }: SchedulesOptions,
  store: ScheduleStore,
  record: ScheduleRecord,
  now: number
) =>
  Effect.gen(function*() {
    const definition = registry.get(record.workflow)
    if (definition === undefined) return true
    const plan = Either.flatMap(
      cronOf(record.cron, record.timezone),
      (cron) => attempt(() => ticksDue(cron, record, now))
    )
    if (Either.isLeft(plan)) {
      yield* Effect.logWarning(`Schedule "${record.name}" paused: ${plan.left}`)
      yield* store.pause(record.name, true, undefined, now)
      return true
    }
    const input = yield* Schema.decodeUnknown(definition.workflow.input)(record.input).pipe(
      Effect.tapError((error) =>
        Effect.logWarning(`Schedule "${record.name}" skipped ticks: its input no longer decodes`, error)
      ),
      Effect.option
    )
    let last: { tick: number; execution: string } | undefined
    if (input._tag === "Some") {
      for (const at of plan.right.ticks) {
        const execution = tickId(record.name, at)
        // A start refused for good (its id taken by another workflow's execution, its input refused) would be
        // refused on every retry: said, and passed over. Storage failures are retried.
        const started = yield* Effect.either(start(record.workflow, input.value, { executionId: execution }))
        if (started._tag === "Left") {
          const tag = (started.left as { readonly _tag?: unknown } | undefined)?._tag
          if (typeof tag !== "string" || !refusedForGood.has(tag)) return yield* Effect.fail(started.left)
          yield* Effect.logWarning(`Schedule "${record.name}" could not start its tick ${execution}`, started.left)
          continue
        }
        last = { tick: at, execution }
      }
    }
    yield* store.advance(record.name, record.nextAt, plan.right.next, last, now)
    return true
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logWarning(`Schedule "${record.name}" could not tick; retrying`, cause), false)
    )
  )

/** The loop of one engine: ticks what is due of the workflows registered here, then waits for the next. */
const ticking = (options: SchedulesOptions, store: ScheduleStore, signal: Signal) => {
  const { clock, poll, registry } = options
  return Effect.gen(function*() {
    const seen = signal.version
    const now = clock.unsafeCurrentTimeMillis()
    const answer = yield* store.due(now, registry.names()).pipe(
      Effect.tapError((error) => Effect.logWarning("Reading due schedules failed", error)),
      Effect.orElseSucceed(() => ({ due: [], failed: true }))
    )
    let retry = "failed" in answer
    for (const record of answer.due) retry = !(yield* tick(options, store, record, now)) || retry
    // Ticked something: ask again at once (the next tick is among those just moved).
    if (answer.due.length > 0 && !retry) return
    const next = "next" in answer ? answer.next : undefined
    const until = retry || next === undefined
      ? poll
      : Duration.millis(Math.max(0, next - clock.unsafeCurrentTimeMillis()))
    yield* signal.wait(seen, Duration.min(until, poll))
  }).pipe(Effect.forever, Effect.forkScoped)
}

export const make = (options: SchedulesOptions) =>
  Effect.gen(function*() {
    const { clock, register, registry, storage } = options
    const signal = new Signal()
    const store = storage.schedules
    if (store !== undefined && options.ticks) yield* ticking(options, store, signal)

    const schedule = (
      options: ScheduleOptions & { readonly workflow: Workflow.Any | string; readonly input: unknown }
    ) =>
      Effect.gen(function*() {
        const { graceMs, missed, name, nextAt, store } = yield* checked(
          storage.schedules,
          options,
          clock.unsafeCurrentTimeMillis()
        )
        if (typeof options.workflow !== "string") yield* register(options.workflow)
        const workflow = typeof options.workflow === "string" ? options.workflow : options.workflow.name
        const input = yield* validInput(yield* registry.find(workflow), options.input)
        const now = clock.unsafeCurrentTimeMillis()
        // Set again as it was (every process declaring its schedules as it starts): it keeps its place, so
        // no tick is skipped or started twice, and its pause unless `paused` is given.
        const stored = yield* store.get(name)
        const same = stored !== undefined && stored.cron === options.cron && stored.timezone === options.timezone
        // Unpaused by setting it again: as a resume, ticks while paused are not missed ones.
        const resumed = stored?.paused === true && options.paused === false
        const record: ScheduleRecord = {
          name,
          workflow,
          input,
          cron: options.cron,
          ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
          missed,
          graceMs,
          paused: options.paused ?? stored?.paused ?? false,
          nextAt: same && !resumed ? stored.nextAt : nextAt,
          createdAt: stored?.createdAt ?? now,
          updatedAt: now
        }
        yield* store.put(record)
        signal.notify()
        return same && stored.lastTick !== undefined && stored.lastExecution !== undefined
          ? { ...record, lastTick: stored.lastTick, lastExecution: stored.lastExecution }
          : record
      }).pipe(Effect.withSpan("WorkflowEngine.schedule"))

    const found = (name: string, done: boolean) =>
      done ? Effect.void : Effect.fail(new ScheduleNotFound({ schedule: name }))

    const named = (name: string) =>
      Effect.flatMap(
        store === undefined ? Effect.succeed(undefined) : store.get(name),
        (record) =>
          record === undefined || store === undefined
            ? Effect.fail(new ScheduleNotFound({ schedule: name }))
            : Effect.succeed({ record, store })
      )

    const pauseSchedule = (name: string) =>
      Effect.flatMap(
        store === undefined
          ? Effect.succeed(false)
          : store.pause(name, true, undefined, clock.unsafeCurrentTimeMillis()),
        (done) => found(name, done)
      )

    // Ticks that came while paused are not missed: the next is the first after now.
    const resumeSchedule = (name: string) =>
      Effect.flatMap(named(name), ({ record, store }) => {
        const now = clock.unsafeCurrentTimeMillis()
        const next = Either.flatMap(cronOf(record.cron, record.timezone), (cron) => attempt(() => after(cron, now)))
        return Effect.flatMap(
          store.pause(name, false, Either.getOrElse(next, () => record.nextAt), now),
          (done) => found(name, done)
        ).pipe(Effect.tap(() => signal.notify()))
      })

    const unschedule = (name: string) =>
      Effect.flatMap(
        store === undefined ? Effect.succeed(false) : store.remove(name),
        (done) => found(name, done)
      )

    return {
      service: {
        schedule: schedule as WorkflowEngineService["schedule"],
        schedules: store === undefined ? Effect.succeed([]) : store.list,
        pauseSchedule,
        resumeSchedule,
        unschedule
      },
      /** A workflow was registered here: its schedules may tick here now. */
      registered: () => signal.notify()
    } as const
  })
