import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import { ExecutionStorage, Models, Planning, ScriptedModel, Workflow, WorkflowEngine } from "../src/index.js"
import type { Chat } from "./chat.js"
import { chatWith } from "./chat.js"

const greet = Workflow.make({
  name: "greet",
  description: "Says hello",
  input: Schema.Struct({ name: Schema.String, times: Schema.optional(Schema.Number) }),
  output: Schema.String,
  run: ({ name, times = 1 }) =>
    Effect.gen(function*() {
      const text = yield* Workflow.step("compose", Effect.succeed(`hello ${name}`.repeat(times)))
      yield* Workflow.log("info", `composed for ${name}`)
      return text
    })
})

const review = Workflow.make({
  name: "review",
  run: () =>
    Effect.gen(function*() {
      const answer = yield* Workflow.approval({ taskId: "ship", dataForApproval: { v: 1 }, message: "Ship it?" })
      return answer.status
    })
})

/** Runs `body` against a fresh in-memory engine with the planning workflows, `greet` and `review` registered. */
const withChat = <A, E>(
  body: (
    chat: Chat
  ) => Effect.Effect<A, E, WorkflowEngine.WorkflowEngine | ExecutionStorage.ExecutionStorage | Models.Models>,
  models?: Layer.Layer<Models.Models, unknown>
) => chatWith([greet, review], body, models)

const stored = Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.list({ limit: 1000 }))

describe("Commands", () => {
  it.live("/workflow list shows every registered workflow", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        expect((yield* run("/workflow list"))._tag).toBe("Done")
        expect(text()).toContain("greet — Says hello")
        expect(text()).toContain("task-planner")
        expect(text()).toContain("plan-executor")
        expect(text()).toContain("prompt-analyzer")
      })
    ))

  it.live("/workflow run shows the run live: steps with durations, logs and the output", () =>
    withChat(({ lines, run, text }) =>
      Effect.gen(function*() {
        const result = yield* run(`/workflow run greet {"name":"Ada"}`)
        expect(result._tag).toBe("Run")
        expect(result._tag === "Run" && result.outcome).toEqual({ _tag: "Completed", output: "hello Ada" })
        expect(text()).toMatch(/▶ compose/)
        expect(text()).toMatch(/✓ compose \(\d+ ms\)/)
        expect(text()).toContain("composed for Ada")
        expect(lines.at(-1)?.text).toBe("Output: hello Ada")
        const pairs = yield* run("/workflow run greet name=Bob times=2")
        expect(pairs._tag === "Run" && pairs.outcome).toEqual({ _tag: "Completed", output: "hello Bobhello Bob" })
      })
    ))

  it.live("malformed commands say what was wrong and store nothing", () =>
    withChat(({ lines, run }) =>
      Effect.gen(function*() {
        const before = yield* stored
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["/workflow frobnicate", `Unknown action "frobnicate"`],
          ["/workflow run", "needs a workflow name"],
          ["/workflow run nope", `No workflow named "nope"`],
          [`/workflow run greet {"name":`, "not valid JSON"],
          ["/workflow run greet just some words", "must be JSON or key=value pairs"],
          [`/workflow run greet {"name":42}`, "name"],
          ["/workflow status missing-id", `No execution with id "missing-id"`],
          ["/workflow events missing-id", `No execution with id "missing-id"`],
          ["/workflow events x --from abc", "--from takes a seq"],
          ["/workflow events x --to 3", `Unexpected "--to"`],
          ["/workflow executions --status sleeping", `Unknown status "sleeping"`],
          ["/workflow resume missing-id", `No execution with id "missing-id"`],
          ["/workflow cancel missing-id", `No execution with id "missing-id"`],
          ["/workflow approve missing-id", `No execution with id "missing-id"`],
          ["/workflow approve missing-id ship maybe", `not "maybe"`],
          ["/workflow debug loud", "takes on or off"],
          ["/plan", "/plan needs a prompt"],
          ["/apply", "No plan to apply"],
          ["/apply now", "takes no arguments"],
          ["/analyze", "needs a prompt"],
          ["/analyze color=blue -- do it", "color"],
          ["/analyze plan=sometimes -- do it", "plan"],
          ["/analyze model=gpt-9 -- do it", `Unknown model "gpt-9"`],
          ["/analyze plan -- do it", `Options are key=value, not "plan"`],
          ["/analyze plan=never write a poem", "Put -- between the options and the prompt"]
        ]
        for (const [command, expected] of cases) {
          const count = lines.length
          const result = yield* run(command)
          expect(result._tag, command).toBe("Rejected")
          const errors = lines.slice(count).filter((line) => line.kind === "error").map((line) => line.text)
          expect(errors.join("\n"), command).toContain(expected)
        }
        expect(yield* stored).toEqual(before)
      })
    ))

  it.live("approving a task that is not waiting is refused and changes nothing", () =>
    withChat(({ run }) =>
      Effect.gen(function*() {
        const done = yield* run(`/workflow run greet {"name":"Ada"}`)
        const id = done._tag === "Run" ? done.executionId : ""
        const before = yield* stored
        expect((yield* run(`/workflow approve ${id} ship approved`))._tag).toBe("Rejected")
        const waiting = yield* run("/workflow run review")
        const waitingId = waiting._tag === "Run" ? waiting.executionId : ""
        const snapshot = yield* stored
        const wrong = yield* run(`/workflow approve ${waitingId} other-task approved`)
        expect(wrong._tag).toBe("Rejected")
        expect(yield* stored).toEqual(snapshot)
        expect(before.executions.length + 1).toBe(snapshot.executions.length)
      })
    ))

  it.live("a run that asks for approval stops at the question; /workflow approve goes on to the end", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const waiting = yield* run("/workflow run review")
        expect(waiting._tag === "Run" && waiting.outcome).toMatchObject({ _tag: "Waiting", taskId: "ship" })
        const id = waiting._tag === "Run" ? waiting.executionId : ""
        expect(text()).toContain(`? Ship it? — /workflow approve ${id} ship approved|rejected`)
        const done = yield* run(`/workflow approve ${id} ship rejected not today`)
        expect(done._tag === "Run" && done.outcome).toEqual({ _tag: "Completed", output: "rejected" })
        expect(text()).toContain(`Approval "ship": rejected: not today`)
      })
    ))

  it.live("/workflow status, events, executions and debug read what is stored", () =>
    withChat(({ lines, run, text }) =>
      Effect.gen(function*() {
        const done = yield* run(`/workflow run greet {"name":"Ada"}`)
        const id = done._tag === "Run" ? done.executionId : ""
        yield* run(`/workflow status ${id}`)
        expect(text()).toContain(`${id}  greet  completed`)
        expect(text()).toContain(`output: hello Ada`)
        const count = lines.length
        yield* run(`/workflow events ${id} --from 3`)
        const shown = lines.slice(count).map((line) => line.text)
        expect(shown[0]).toContain("composed for Ada")
        expect(shown.at(-1)).toBe("Output: hello Ada")
        yield* run("/workflow executions --status completed --workflow greet")
        expect(text()).toContain(`${id}  greet  completed`)
        yield* run("/workflow debug on")
        expect(text()).toContain("Debug is on")
        yield* run(`/workflow events ${id}`)
        expect(text()).toContain(`✓ compose`)
        expect(text()).toMatch(/✓ compose \(\d+ ms\) → hello Ada/)
      })
    ))

  it.live("/plan prints and stores the plan and waits; /apply runs it, reporting failed tasks and going on", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const planned = yield* run(
          "/plan 1. greet name=Ada\n2. write a poem about the sea\n3. run greet with {\"name\":\"Bob\"}"
        )
        expect(planned._tag).toBe("Planned")
        if (planned._tag !== "Planned") return
        expect(planned.plan.tasks.map((task) => task.workflow?.name)).toEqual(["greet", undefined, "greet"])
        expect(planned.plan.tasks[2]!.workflow?.input).toEqual({ name: "Bob" })
        expect(text()).not.toContain("Unknown task")
        expect(text()).toContain("1. greet name=Ada → workflow greet {\"name\":\"Ada\"}")
        const pending = yield* Planning.pending
        expect(pending._tag).toBe("Some")
        const applied = yield* run("/apply")
        expect(applied._tag).toBe("Run")
        if (applied._tag !== "Run" || applied.outcome._tag !== "Completed") throw new Error("not completed")
        const report = applied.outcome.output as { completed: number; failed: number }
        expect(report).toMatchObject({ completed: 2, failed: 1 })
        expect(text()).toContain("needs a language model")
        expect(text()).toContain("Plan done: 2 completed, 1 failed.")
        expect((yield* Planning.pending)._tag).toBe("None")
        expect((yield* run("/apply"))._tag).toBe("Rejected")
      })
    ))

  it.live("/analyze: plan=never executes directly, plan=always plans; model= picks the model", () =>
    withChat(
      ({ run, text }) =>
        Effect.gen(function*() {
          const direct = yield* run("/analyze plan=never -- write a haiku")
          expect(direct._tag === "Run" && direct.outcome._tag).toBe("Failed")
          expect(text()).toContain("needs a language model")
          const scripted = yield* run("/analyze model=scripted plan=never -- write a haiku")
          expect(scripted._tag === "Run" && scripted.outcome).toMatchObject({
            _tag: "Completed",
            output: { approach: "direct", output: "HAIKU about: write a haiku" }
          })
          const planned = yield* run("/analyze model=scripted plan=always -- greet name=Ada then write a haiku")
          expect(planned._tag === "Run" && planned.outcome).toMatchObject({
            _tag: "Completed",
            output: { approach: "plan", report: { completed: 2, failed: 0 } }
          })
          const auto = yield* run("/analyze -- greet name=Ada")
          expect(auto._tag === "Run" && auto.outcome).toMatchObject({ _tag: "Completed" })
        }),
      Models.layer({
        models: {
          scripted: ScriptedModel.layer(({ kind, prompt }) => {
            if (kind === "text") return `HAIKU about: ${/Task: (.*)/.exec(prompt)?.[1] ?? prompt}`
            if (prompt.includes("complexity")) return { complexity: 2, approach: "direct", reasons: ["scripted"] }
            return {
              tasks: [
                { intent: "greet Ada", description: "greet", workflow: { name: "greet", input: { name: "Ada" } } },
                { intent: "write a haiku", description: "write a haiku" }
              ]
            }
          })
        },
        default: Models.BUILTIN
      })
    ))

  it.live("help prints the usage without an error", () =>
    withChat(({ lines, run }) =>
      Effect.gen(function*() {
        for (const command of ["/workflow help", "/plan help", "/apply help", "/analyze help"]) {
          const count = lines.length
          expect((yield* run(command))._tag, command).toBe("Done")
          expect(lines.slice(count).every((line) => line.kind === "system"), command).toBe(true)
        }
      })
    ))

  it.live("key=value arguments may be quoted", () =>
    withChat(({ run }) =>
      Effect.gen(function*() {
        const result = yield* run(`/workflow run greet name="Ada Lovelace" times=1`)
        expect(result._tag === "Run" && result.outcome).toEqual({ _tag: "Completed", output: "hello Ada Lovelace" })
      })
    ))

  it.live("resuming a run that waits for an approval shows the question again instead of waiting", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const waiting = yield* run("/workflow run review")
        const id = waiting._tag === "Run" ? waiting.executionId : ""
        const resumed = yield* run(`/workflow resume ${id}`)
        expect(resumed._tag === "Run" && resumed.outcome).toEqual({ _tag: "Waiting", executionId: id, taskId: "ship" })
        expect(text().split(`/workflow approve ${id} ship`).length).toBe(3)
      })
    ))

  it.live("a plan task whose workflow asks for approval: /apply stops at the question, approving it goes on with the plan", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        yield* run("/plan 1. run review 2. greet name=Ada")
        const applied = yield* run("/apply")
        expect(applied._tag === "Run" && applied.outcome._tag).toBe("Waiting")
        if (applied._tag !== "Run" || applied.outcome._tag !== "Waiting") return
        const child = applied.outcome.executionId
        expect(child).toBe(`${applied.executionId}.task-1`)
        expect(text()).toContain(`  ? Ship it? — /workflow approve ${child} ship approved|rejected`)
        const approved = yield* run(`/workflow approve ${child} ship approved`)
        expect(approved._tag === "Run" && approved.outcome).toMatchObject({
          _tag: "Completed",
          output: { completed: 2, failed: 0 }
        })
        expect(text()).toContain("Plan done: 2 completed, 0 failed.")
      })
    ))

  it.live("approving a child shows the runs that started it going on, found by their parent links, whatever its id", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        // Two levels, with ids that share no prefix: outer starts middle, which starts review.
        const starts = (name: string, child: string, workflow: string) =>
          Workflow.make({
            name,
            run: () =>
              Workflow.step(
                `wait for ${workflow}`,
                Effect.flatMap(engine.start(workflow, undefined, { executionId: child }), (handle) => handle.result),
                { input: { child } }
              )
          })
        const suffix = Math.random().toString(36).slice(2, 8)
        yield* engine.register(starts("middle", `review-${suffix}`, "review"))
        yield* engine.register(starts("outer", `middle-${suffix}`, "middle"))
        const waiting = yield* run("/workflow run outer")
        expect(waiting._tag === "Run" && waiting.outcome).toEqual({
          _tag: "Waiting",
          executionId: `review-${suffix}`,
          taskId: "ship"
        })
        const outer = waiting._tag === "Run" ? waiting.executionId : ""
        expect((yield* engine.status(`middle-${suffix}`)).parent).toBe(outer)
        const approved = yield* run(`/workflow approve review-${suffix} ship approved`)
        expect(approved).toEqual({
          _tag: "Run",
          executionId: outer,
          outcome: { _tag: "Completed", output: "approved" }
        })
        expect(text()).toContain(`✓ wait for middle`)
      })
    ))

  it.live("a new /plan replaces the one waiting: /apply runs the newest and only once", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const first = yield* run("/plan greet name=One")
        yield* run("/plan greet name=Two")
        expect(text()).toContain(
          `Replaced the plan that was waiting in ${first._tag === "Planned" ? first.executionId : ""}`
        )
        const applied = yield* run("/apply")
        expect(applied._tag === "Run" && applied.outcome).toMatchObject({
          output: { outcomes: [{ output: "hello Two" }] }
        })
        expect((yield* run("/apply"))._tag).toBe("Rejected")
      })
    ))

  it.live("a plan records its model; a model is looked up only by a step that needs it", () =>
    withChat(({ run }) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* run("/plan greet name=Ada")
        const applied = yield* run("/apply")
        const plan = yield* engine.status(applied._tag === "Run" ? applied.executionId : "")
        expect(plan.input).toMatchObject({ model: "builtin" })
        // Made elsewhere with a model this process does not have: tasks that need no model still run.
        const handle = yield* engine.start(Planning.PLAN_EXECUTOR, {
          prompt: "p",
          model: "elsewhere",
          tasks: [
            { intent: "greet", description: "greet", workflow: { name: "greet", input: { name: "Bo" } } },
            { intent: "write", description: "write a poem" }
          ]
        })
        expect(yield* handle.result).toMatchObject({
          completed: 1,
          failed: 1,
          outcomes: [{ status: "completed" }, { status: "failed", error: expect.stringContaining(`"elsewhere"`) }]
        })
      })
    ))

  it.live("resuming a run another process has claimed says until when", () =>
    withChat(({ run, text }) =>
      Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        yield* storage.create({ id: "claimed", workflow: "greet", input: { name: "X" }, status: "running" })
        yield* storage.claim("claimed", "a process that died", 60_000)
        const until = (yield* storage.get("claimed")).leaseUntil!
        const resuming = yield* Effect.fork(run("/workflow resume claimed"))
        while (!text().includes("is claimed until")) yield* Effect.sleep("5 millis")
        expect(text()).toContain(`claimed is claimed until ${new Date(until).toISOString()}`)
        yield* Fiber.interrupt(resuming)
        yield* run("/workflow status claimed")
        expect(text()).toContain(`claimed by a process until ${new Date(until).toISOString()}`)
      })
    ))

  it.live("cancelling a plan cancels the child execution it waits on", () =>
    withChat(({ run }) =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* engine.register(Workflow.make({ name: "forever", run: () => Workflow.step("wait", Effect.never) }))
        const handle = yield* engine.start(Planning.PLAN_EXECUTOR, {
          prompt: "p",
          tasks: [{ intent: "wait", description: "wait", workflow: { name: "forever" } }]
        })
        const child = `${handle.id}.task-1`
        while ((yield* Effect.either(engine.status(child)))._tag === "Left") yield* Effect.sleep("5 millis")
        expect((yield* run(`/workflow cancel ${handle.id}`))._tag).toBe("Done")
        expect((yield* engine.status(child)).status).toBe("cancelled")
      })
    ))

  it.scopedLive("a crash in the middle of a plan resumes at the next task", () =>
    Effect.gen(function*() {
      const runs: Array<string> = []
      const task = (name: string) =>
        Workflow.make({
          name,
          run: () =>
            Effect.suspend(() => {
              runs.push(name)
              // The first attempt at "second" hangs: the process dies there.
              return name === "second" && runs.filter((run) => run === "second").length === 1
                ? Effect.never
                : Effect.succeed(`${name} done`)
            })
        })
      const workflows = [task("first"), task("second"), task("third")]
      const storage = yield* Layer.build(ExecutionStorage.layerMemory)
      const engineIn = (scope: Scope.Scope) =>
        Layer.buildWithScope(
          Layer.merge(WorkflowEngine.layerWith({ recover: false }), Models.layerBuiltin),
          scope
        ).pipe(Effect.provide(storage))
      const plan = {
        prompt: "three tasks",
        tasks: workflows.map((w) => ({ intent: w.name, description: w.name, workflow: { name: w.name } }))
      }
      const firstScope = yield* Scope.make()
      const first = yield* engineIn(firstScope)
      const id = yield* Effect.gen(function*() {
        yield* Planning.register
        const engine = yield* WorkflowEngine.WorkflowEngine
        for (const w of workflows) yield* engine.register(w)
        const handle = yield* engine.start(Planning.PLAN_EXECUTOR, plan)
        while (!runs.includes("second")) yield* Effect.sleep("5 millis")
        return handle.id
      }).pipe(Effect.provide(first))
      yield* Scope.close(firstScope, Exit.void)
      expect(runs).toEqual(["first", "second"])

      const second = yield* engineIn(yield* Effect.scope)
      const report = yield* Effect.gen(function*() {
        yield* Planning.register
        const engine = yield* WorkflowEngine.WorkflowEngine
        for (const w of workflows) yield* engine.register(w)
        yield* engine.resume(id)
        return yield* engine.result(id)
      }).pipe(Effect.provide(second))
      expect(runs).toEqual(["first", "second", "second", "third"])
      expect(report).toMatchObject({ completed: 3, failed: 0 })
    }))
})
