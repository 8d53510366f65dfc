/**
 * Schedules in the in-memory storage: a map by name, with the same answers
 * as the SQL storages give (copies in, copies out).
 */
import * as Effect from "effect/Effect"
import type { ScheduleRecord, ScheduleStore } from "../../ExecutionStorage.js"
import { faithful, thaw } from "./payload.js"
import type { InvalidPayload } from "./service.js"

export const memoryScheduleStore = (): ScheduleStore => {
  const schedules = new Map<string, ScheduleRecord>()
  const update = (name: string, change: (schedule: ScheduleRecord) => ScheduleRecord | undefined) =>
    Effect.sync(() => {
      const schedule = schedules.get(name)
      const changed = schedule === undefined ? undefined : change(schedule)
      if (changed !== undefined) schedules.set(name, changed)
      return changed !== undefined
    })
  return {
    put: (schedule) =>
      Effect.try({
        try: () => {
          const input = faithful(`the input of schedule "${schedule.name}"`, "input", schedule.input, true)
          // As the SQL upsert: the last tick stays, the rest is replaced.
          const stored = schedules.get(schedule.name)
          const { lastExecution: _execution, lastTick: _tick, ...defined } = schedule
          schedules.set(schedule.name, {
            ...defined,
            input,
            createdAt: stored?.createdAt ?? schedule.createdAt,
            ...(stored?.lastTick !== undefined && stored.lastExecution !== undefined
              ? { lastTick: stored.lastTick, lastExecution: stored.lastExecution }
              : {})
          })
        },
        catch: (error) => error as InvalidPayload
      }),
    list: Effect.sync(() =>
      Array.from(schedules.values())
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((schedule) => ({ ...schedule, input: thaw(schedule.input) }))
    ),
    get: (name) =>
      Effect.sync(() => {
        const schedule = schedules.get(name)
        return schedule === undefined ? undefined : { ...schedule, input: thaw(schedule.input) }
      }),
    remove: (name) => Effect.sync(() => schedules.delete(name)),
    pause: (name, paused, nextAt, now) =>
      update(name, (schedule) => ({ ...schedule, paused, nextAt: nextAt ?? schedule.nextAt, updatedAt: now })),
    due: (now, workflows) =>
      Effect.sync(() => {
        const mine = Array.from(schedules.values()).filter((schedule) =>
          !schedule.paused && workflows.includes(schedule.workflow)
        )
        const due = mine.filter((schedule) => schedule.nextAt <= now).sort((a, b) => a.nextAt - b.nextAt)
        const later = mine.filter((schedule) => schedule.nextAt > now).map((schedule) => schedule.nextAt)
        return {
          due: due.map((schedule) => ({ ...schedule, input: thaw(schedule.input) })),
          ...(later.length === 0 ? {} : { next: Math.min(...later) })
        }
      }),
    advance: (name, from, to, last, now) =>
      update(name, (schedule) =>
        schedule.nextAt !== from ? undefined : {
          ...schedule,
          nextAt: to,
          updatedAt: now,
          ...(last === undefined ? {} : { lastTick: last.tick, lastExecution: last.execution })
        })
  }
}
