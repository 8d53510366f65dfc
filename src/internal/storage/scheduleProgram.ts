/**
 * Schedules in the SQL storages: the statements of `ScheduleStore`, written
 * once as programs (as commits and wake-ups are) and run in one transaction
 * by each driver.
 */
import * as Effect from "effect/Effect"
import type { ScheduleRecord, ScheduleStore } from "../../ExecutionStorage.js"
import type { Query, Rows } from "./commitProgram.js"
import { decode, encode } from "./payload.js"
import { StorageError } from "./service.js"

const query = (text: string, params: ReadonlyArray<unknown>): Query => ({ text, params })

function* single(text: string, params: ReadonlyArray<unknown>): Generator<Query, Rows, Rows> {
  return yield query(text, params)
}

const optionalNumber = (value: unknown) => (value === null || value === undefined ? {} : { value: Number(value) })

/** A stored row as a record (its input decoded). */
const toSchedule = (row: Record<string, unknown>): Effect.Effect<ScheduleRecord, StorageError> =>
  Effect.map(decode(`the input of schedule "${String(row.name)}"`, row.input as string), (input) => {
    const lastTick = optionalNumber(row.last_tick)
    return {
      name: String(row.name),
      workflow: String(row.workflow),
      input,
      cron: String(row.cron),
      ...(row.timezone === null || row.timezone === undefined ? {} : { timezone: String(row.timezone) }),
      missed: row.missed === "skip" ? "skip" : "once",
      graceMs: Number(row.grace_ms),
      paused: Number(row.paused) === 1,
      nextAt: Number(row.next_at),
      ...("value" in lastTick ? { lastTick: lastTick.value } : {}),
      ...(row.last_execution === null || row.last_execution === undefined
        ? {}
        : { lastExecution: String(row.last_execution) }),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at)
    }
  })

const failed = (operation: string) => (cause: unknown) =>
  cause instanceof StorageError
    ? cause
    : new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })

/** The schedule store over a way to run a program in one transaction (each storage's own driver). */
export const scheduleStore = (
  run: <A>(program: Generator<Query, A, Rows>) => Effect.Effect<A, unknown>
): ScheduleStore => {
  // A program is a generator, used up by one run: made anew each time the effect runs.
  const rows = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
    Effect.mapError(Effect.suspend(() => run(single(text, params))), failed(operation))
  const records = (found: Rows) => Effect.forEach(found, toSchedule)
  return {
    put: (schedule) =>
      Effect.flatMap(encode(`the input of schedule "${schedule.name}"`, schedule.input, "input"), (input) =>
        rows(
          "schedule",
          `insert into workflow_schedules
            (name, workflow, input, cron, timezone, missed, grace_ms, paused, next_at, created_at, updated_at)
          values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          on conflict (name) do update set
            workflow = excluded.workflow, input = excluded.input, cron = excluded.cron,
            timezone = excluded.timezone, missed = excluded.missed, grace_ms = excluded.grace_ms,
            paused = excluded.paused, next_at = excluded.next_at, updated_at = excluded.updated_at`,
          [
            schedule.name,
            schedule.workflow,
            input,
            schedule.cron,
            schedule.timezone ?? null,
            schedule.missed,
            Math.trunc(schedule.graceMs),
            schedule.paused ? 1 : 0,
            Math.trunc(schedule.nextAt),
            Math.trunc(schedule.createdAt),
            Math.trunc(schedule.updatedAt)
          ]
        )).pipe(Effect.asVoid),
    list: Effect.flatMap(rows("schedules", "select * from workflow_schedules order by name", []), records),
    get: (name) =>
      Effect.flatMap(
        rows("schedule", "select * from workflow_schedules where name = ?", [name]),
        ([row]) => row === undefined ? Effect.succeed(undefined) : toSchedule(row)
      ),
    remove: (name) =>
      Effect.map(
        rows("unschedule", "delete from workflow_schedules where name = ? returning name", [name]),
        (deleted) => deleted.length > 0
      ),
    pause: (name, paused, nextAt, now) =>
      Effect.map(
        rows(
          paused ? "pauseSchedule" : "resumeSchedule",
          `update workflow_schedules set paused = ?, next_at = coalesce(?, next_at), updated_at = ?
            where name = ? returning name`,
          [paused ? 1 : 0, nextAt === undefined ? null : Math.trunc(nextAt), Math.trunc(now), name]
        ),
        (updated) => updated.length > 0
      ),
    due: (now, workflows) => {
      if (workflows.length === 0) return Effect.succeed({ due: [] })
      const list = workflows.map(() => "?").join(", ")
      return Effect.flatMap(
        run(function*(): Generator<Query, { due: Rows; next: unknown }, Rows> {
          const due = yield query(
            `select * from workflow_schedules
              where paused = 0 and next_at <= ? and workflow in (${list}) order by next_at`,
            [Math.trunc(now), ...workflows]
          )
          const [next] = yield query(
            `select min(next_at) as next from workflow_schedules
              where paused = 0 and next_at > ? and workflow in (${list})`,
            [Math.trunc(now), ...workflows]
          )
          return { due, next: next?.next }
        }()).pipe(Effect.mapError(failed("dueSchedules"))),
        ({ due, next }) =>
          Effect.map(records(due), (schedules) => ({
            due: schedules,
            ...(next === null || next === undefined ? {} : { next: Number(next) })
          }))
      )
    },
    advance: (name, from, to, last, now) =>
      Effect.map(
        rows(
          "advanceSchedule",
          `update workflow_schedules
              set next_at = ?, last_tick = coalesce(?, last_tick), last_execution = coalesce(?, last_execution),
                  updated_at = ?
            where name = ? and next_at = ? returning name`,
          [Math.trunc(to), last?.tick ?? null, last?.execution ?? null, Math.trunc(now), name, Math.trunc(from)]
        ),
        (moved) => moved.length > 0
      )
  }
}
