/**
 * The chat commands over durable waits, forks and schedules: a run that
 * waits for a signal or sleeps long stops being followed (with what to do
 * next), `/workflow signal` resumes it, `/workflow fork` reruns from a step,
 * and schedules are set, listed and steered; bad input is refused with
 * nothing changed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Workflow, WorkflowEngine } from "../src/index.js"
import { chatWith } from "./chat.js"

const waiter = Workflow.make({
  name: "waiter",
  signals: { go: Schema.Struct({ n: Schema.Number }) },
  run: () =>
    Effect.gen(function*() {
      const { n } = yield* Workflow.signal("go", Schema.Struct({ n: Schema.Number }))
      return n * 2
    })
})

const sleeper = Workflow.make({
  name: "sleeper",
  input: Schema.Struct({ ms: Schema.Number }),
  run: ({ ms }) => Effect.as(Workflow.sleep(ms), "awake")
})

let broken = true
const flaky = Workflow.make({
  name: "flaky",
  run: () =>
    Effect.gen(function*() {
      const first = yield* Workflow.step("first", Effect.succeed(1))
      return yield* Workflow.step("second", broken ? Effect.fail("not yet fixed") : Effect.succeed(first + 1))
    })
})

const greet = Workflow.make({
  name: "greet",
  input: Schema.Struct({ name: Schema.String }),
  run: ({ name }) => Effect.succeed(`hello ${name}`)
})

const withChat = <A, E>(body: Parameters<typeof chatWith<A, E>>[1]) => chatWith([waiter, sleeper, flaky, greet], body)

const outcomeOf = (result: { readonly _tag: string }) =>
  result._tag === "Run" ? (result as unknown as { readonly outcome: { readonly _tag: string } }).outcome : undefined

describe("chat commands over waits, forks and schedules", () => {
  it.live("stops at a signal wait with the command to send it, and /workflow signal resumes the run", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const started = yield* run("/workflow run waiter")
        expect(outcomeOf(started)).toMatchObject({ _tag: "Suspended", wait: "signal", name: "go" })
        const id = (started as { readonly executionId: string }).executionId
        expect(text()).toContain(`/workflow signal ${id} go <json>`)
        // Refused, and the run still waits: a payload its schema refuses, JSON that is not, a prototype key.
        for (const bad of [`{"n":"x"}`, `{"n":`, `{"__proto__":{"n":1}}`]) {
          expect((yield* run(`/workflow signal ${id} go ${bad}`))._tag).toBe("Rejected")
        }
        expect(text()).toContain(`Signal "go" refused for execution "${id}"`)
        const engine = yield* WorkflowEngine.WorkflowEngine
        expect((yield* engine.status(id)).status).toBe("waiting")
        const resumed = yield* run(`/workflow signal ${id} go {"n": 21}`)
        expect(outcomeOf(resumed)).toEqual({ _tag: "Completed", output: 42 })
        expect(text()).toContain(`Sent signal "go" to ${id}`)
      })
    ))

  it.live("follows a short sleep to its end and stops at a long one", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        expect(outcomeOf(yield* run(`/workflow run sleeper {"ms": 50}`))).toEqual({
          _tag: "Completed",
          output: "awake"
        })
        const long = outcomeOf(yield* run(`/workflow run sleeper {"ms": 3600000}`))
        expect(long).toMatchObject({ _tag: "Suspended", wait: "sleep" })
        expect((long as unknown as { readonly wakeAt: number }).wakeAt).toBeGreaterThan(Date.now() + 3_500_000)
        expect(text()).toContain("⏸ sleeping until")
      })
    ))

  it.live("/workflow fork reruns a failed execution from a step, after the fix", () =>
    withChat(({ run }) =>
      Effect.gen(function*() {
        broken = true
        const failed = yield* run("/workflow run flaky")
        expect(outcomeOf(failed)?._tag).toBe("Failed")
        const id = (failed as { readonly executionId: string }).executionId
        broken = false
        expect(outcomeOf(yield* run(`/workflow fork ${id} 1`))).toEqual({ _tag: "Completed", output: 2 })
        for (const bad of [`/workflow fork ${id} one`, `/workflow fork ${id} -1`, `/workflow fork ${id}`]) {
          expect((yield* run(bad))._tag).toBe("Rejected")
        }
        expect((yield* run(`/workflow fork ${id} 7`))._tag).toBe("Rejected")
      })
    ))

  it.live("sets, lists, pauses, resumes and removes a schedule", () =>
    withChat(({ lines, run, text }) =>
      Effect.gen(function*() {
        const set = yield* run(`/workflow schedule nightly "0 3 * * *" --timezone Europe/Berlin greet name=ada`)
        expect(set._tag).toBe("Done")
        expect(text()).toMatch(/Scheduled nightly {2}greet {2}"0 3 \* \* \*" Europe\/Berlin {2}next \d{4}-/)
        const engine = yield* WorkflowEngine.WorkflowEngine
        expect((yield* engine.schedules)[0]).toMatchObject({ name: "nightly", input: { name: "ada" } })
        lines.length = 0
        yield* run("/workflow pause-schedule nightly")
        yield* run("/workflow schedules")
        expect(text()).toContain("Paused schedule nightly")
        expect(text()).toMatch(/nightly {2}greet .* {2}paused/)
        yield* run("/workflow resume-schedule nightly")
        expect((yield* engine.schedules)[0]?.paused).toBe(false)
        expect((yield* run("/workflow unschedule nightly"))._tag).toBe("Done")
        yield* run("/workflow schedules")
        expect(text()).toContain("No schedules.")
        lines.length = 0
        expect((yield* run("/workflow unschedule nightly"))._tag).toBe("Rejected")
        expect(text()).toContain(`No schedule named "nightly"`)
      })
    ))

  it.live("takes a unique start of an id; one that several ids start with is refused, naming them", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        for (const id of ["order-17", "order-18", "invoice-3"]) {
          yield* engine.start(greet, { name: id }, { executionId: id })
          yield* engine.result(id)
        }
        expect((yield* run("/workflow status inv"))._tag).toBe("Done")
        expect(text()).toContain("invoice-3")
        expect((yield* run("/workflow status order-1"))._tag).toBe("Rejected")
        expect(text()).toContain(`"order-1" is the start of more than one execution id: order-18, order-17`)
        // A whole id is itself, even where it starts another.
        yield* engine.start(greet, { name: "x" }, { executionId: "order-1" })
        yield* engine.result("order-1")
        expect((yield* run("/workflow events order-1"))._tag).toBe("Done")
        expect((yield* run("/workflow status nothing"))._tag).toBe("Rejected")
      })
    ))

  it.live("refuses a malformed schedule, naming what is wrong, and stores none", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const refused = [
          `/workflow schedule nightly 0 3 * * * greet name=ada`,
          `/workflow schedule nightly "0 3 * * *" --missed all greet name=ada`,
          `/workflow schedule nightly "0 3 * * *" --every day greet name=ada`,
          `/workflow schedule nightly "0 3 * * *" nowhere`,
          `/workflow schedule nightly "0 99 * * *" greet name=ada`,
          `/workflow schedule nightly "0 3 * * *" --timezone Mars/Olympus greet name=ada`,
          `/workflow schedule nightly "0 3 * * *" greet {"name": 3}`
        ]
        for (const line of refused) expect((yield* run(line))._tag).toBe("Rejected")
        for (
          const said of [
            "in quotes",
            "--missed takes skip or once",
            `Unexpected "--every"`,
            `No workflow named "nowhere"`
          ]
        ) {
          expect(text()).toContain(said)
        }
        expect(text()).toContain(`Invalid cron: "0 99 * * *"`)
        expect(text()).toContain(`Invalid timezone: "Mars/Olympus"`)
        const engine = yield* WorkflowEngine.WorkflowEngine
        expect(yield* engine.schedules).toEqual([])
      })
    ))
})
