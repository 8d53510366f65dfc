import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Analyzer, Plan, Planner } from "../src/index.js"

const plan = (prompt: string, workflows: ReadonlyArray<Planner.Candidate> = []) =>
  Planner.builtin.plan({ prompt, workflows })

const descriptions = (result: Plan.Plan) => result.tasks.map((task) => task.description)

describe("the built-in planner", () => {
  it.effect("text holding the private-use characters that mark quoted spans internally comes back as written", () =>
    Effect.gen(function*() {
      const result = yield* plan(`say \uE0000\uE001 "a, then b" then go \uE001`)
      expect(descriptions(result)).toEqual([`say \uE0000\uE001 "a, then b"`, "go \uE001"])
    }))

  it.effect("a list nested deeper than 16 levels keeps every item: those below the 16th level are its subtasks", () =>
    Effect.gen(function*() {
      const result = yield* plan(Array.from({ length: 40 }, (_, i) => `${" ".repeat(i)}- item ${i + 1}`).join("\n"))
      let depth = 0
      const texts: Array<string> = []
      let level: ReadonlyArray<Plan.Task> | undefined = result.tasks
      for (; level !== undefined && level.length > 0; level = level.at(-1)!.subtasks) {
        depth += 1
        texts.push(...level.map((task) => task.description))
      }
      expect(depth).toBe(17)
      expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `item ${i + 1}`))
    }))

  it.effect("numbered and bulleted lists become tasks, indentation subtasks, continuation lines stay with their item", () =>
    Effect.gen(function*() {
      const result = yield* plan([
        "Release checklist:",
        "1. Run the tests",
        "2. Build the packages",
        "   - for Node",
        "   - for the browser",
        "3) Write the changelog",
        "   covering every merged change"
      ].join("\n"))
      expect(Plan.format(result)).toEqual([
        "1. Run the tests",
        "2. Build the packages",
        "   2.1. for Node",
        "   2.2. for the browser",
        "3. Write the changelog covering every merged change"
      ])
    }))

  it.effect("without a list, sequencing words and semicolons split the prompt", () =>
    Effect.gen(function*() {
      const result = yield* plan("First, fetch the data, then clean it; after that train a model and finally report")
      expect(result.tasks.map((task) => task.description)).toEqual([
        "fetch the data",
        "clean it",
        "train a model",
        "report"
      ])
      const inline = yield* plan("1. fetch 2. clean 3. report")
      expect(inline.tasks.map((task) => task.description)).toEqual(["fetch", "clean", "report"])
    }))

  it.effect("a task naming a registered workflow runs it, with the input written in the task", () =>
    Effect.gen(function*() {
      const workflows: ReadonlyArray<Planner.Candidate> = [
        { name: "count-words" },
        { name: "count" },
        { name: "shout", parseArgs: (args) => ({ text: args }) }
      ]
      const result = yield* plan(
        `1. count words in {"text":"a b"}\n2. count to=3\n3. shout hello there\n4. sing`,
        workflows
      )
      expect(result.tasks.map((task) => task.workflow)).toEqual([
        { name: "count-words", input: { text: "a b" } },
        { name: "count", input: { to: 3 } },
        { name: "shout", input: { text: "hello there" } },
        undefined
      ])
    }))

  it.effect("an empty prompt is a PlanningFailed", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(plan("   "))).toMatchObject({ _tag: "PlanningFailed", reason: "the prompt is empty" })
    }))

  it.effect("items of punctuation alone are dropped; a plan the Schema rejects is a PlanningFailed, not a defect", () =>
    Effect.gen(function*() {
      expect(descriptions(yield* plan("build the app, then ,"))).toEqual(["build the app"])
      const nested = yield* plan("- build\n  - ,\n  - for Node\n- ;")
      expect(Plan.format(nested)).toEqual(["1. build", "   1.1. for Node"])
      expect(yield* Effect.flip(plan(", ; .")))
        .toMatchObject({ _tag: "PlanningFailed", reason: "the prompt names no task" })
      // A name the Plan Schema rejects (not trimmed) fails the effect instead of throwing from `make`.
      expect(yield* Effect.flip(plan("hello there", [{ name: " hello " }]))).toMatchObject({ _tag: "PlanningFailed" })
    }))

  it.effect("sequencing words split only as words at a clause boundary; \"next\" only before a comma or a verb", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
        ["run the next-release workflow then count-words text=hi", [
          "run the next-release workflow",
          "count-words text=hi"
        ]],
        ["I will go to Paris next week", ["I will go to Paris next week"]],
        ["Explain what happens next", ["Explain what happens next"]],
        ["Build it. Next, deploy it", ["Build it", "deploy it"]],
        ["build it, next deploy it", ["build it", "deploy it"]],
        ["check that it finally works and finally ship it", ["check that it finally works", "ship it"]],
        ["keep the then-current config then restart", ["keep the then-current config", "restart"]]
      ]
      for (const [prompt, expected] of cases) expect(descriptions(yield* plan(prompt)), prompt).toEqual(expected)
    }))

  it.effect("quoted strings and {…} objects are not split", () =>
    Effect.gen(function*() {
      const quoted = yield* plan(`count-words text="first, then second" then shout 'a; b'`, [{ name: "count-words" }])
      expect(descriptions(quoted)).toEqual([`count-words text="first, then second"`, `shout 'a; b'`])
      expect(quoted.tasks[0]!.workflow).toEqual({ name: "count-words", input: { text: "first, then second" } })
      const json = yield* plan(`echo {"a":"x; y","b":{"c":"then }"}}; don't stop then it's done`)
      expect(descriptions(json)).toEqual([`echo {"a":"x; y","b":{"c":"then }"}}`, "don't stop", "it's done"])
    }))

  it.effect("numbers ending sentences are no inline list: its markers are 1, 2, 3… in order from the start", () =>
    Effect.gen(function*() {
      expect(descriptions(yield* plan("Upgrade node to 18. Then run the tests on node 20. Then deploy"))).toEqual([
        "Upgrade node to 18",
        "run the tests on node 20",
        "deploy"
      ])
      expect(descriptions(yield* plan("1. upgrade node to 18. 2. test on node 20. 3. deploy"))).toEqual([
        "upgrade node to 18",
        "test on node 20",
        "deploy"
      ])
    }))

  it.effect("ordinals are stripped only as a lead-in followed by a comma or a colon", () =>
    Effect.gen(function*() {
      expect(descriptions(yield* plan("a) first thing\nb) second thing"))).toEqual(["first thing", "second thing"])
      expect(descriptions(yield* plan("first aid kit: pack it"))).toEqual(["first aid kit: pack it"])
      expect(descriptions(yield* plan("Secondly: test it"))).toEqual(["test it"])
    }))

  it.effect("a paragraph after a list is its own task; one right above a list is the task its items detail", () =>
    Effect.gen(function*() {
      expect(Plan.format(yield* plan("1. build\n2. test\n   on Node\n\nIf anything fails, stop."))).toEqual([
        "1. build",
        "2. test on Node",
        "3. If anything fails, stop"
      ])
      // An unindented line, or one after a blank line, does not continue the item above.
      expect(descriptions(yield* plan("- build\n\n   later"))).toEqual(["build", "later"])
      expect(descriptions(yield* plan("- build\n- test\nthen ship"))).toEqual(["build", "test", "ship"])
      expect(Plan.format(yield* plan("Fix the login bug\n- it fails on Safari\n- and on Firefox"))).toEqual([
        "1. Fix the login bug",
        "   1.1. it fails on Safari",
        "   1.2. and on Firefox"
      ])
      expect(descriptions(yield* plan("Checklist:\n\n- build\n- test"))).toEqual(["build", "test"])
    }))

  it.effect("a one-word workflow name counts first, after run/use/call/start/with, before \"workflow\" or in backticks", () =>
    Effect.gen(function*() {
      const workflows: ReadonlyArray<Planner.Candidate> = [
        { name: "release" },
        { name: "hello" },
        { name: "count-words" },
        { name: "shout", parseArgs: (args) => ({ text: args }) }
      ]
      const cases: ReadonlyArray<readonly [string, string | undefined]> = [
        ["Write release notes", undefined],
        ["count the words in the hello world text", undefined],
        [`shout "run hello"`, "shout"],
        ["hello there", "hello"],
        ["now run hello", "hello"],
        ["call the release workflow", "release"],
        ["then use `hello`", "hello"],
        ["please count words in this", "count-words"],
        ["run hello on the count-words output", "count-words"]
      ]
      for (const [prompt, name] of cases) {
        expect((yield* plan(prompt, workflows)).tasks[0]!.workflow?.name, prompt).toEqual(name)
      }
      expect((yield* plan("please `shout` hello there", workflows)).tasks[0]!.workflow)
        .toEqual({ name: "shout", input: { text: "hello there" } })
    }))
})

describe("the built-in analyzer", () => {
  it.effect("one short request is executed directly; several tasks or conditions are planned", () =>
    Effect.gen(function*() {
      const simple = yield* Analyzer.builtin.analyze("write a haiku")
      expect(simple).toMatchObject({ complexity: 1, approach: "direct" })
      const several = yield* Analyzer.builtin.analyze("fetch the data, then clean it, then report if it changed")
      expect(several.approach).toBe("plan")
      expect(several.complexity).toBeGreaterThan(simple.complexity)
      expect(several.reasons).toContain("3 tasks")
      expect(yield* Effect.flip(Analyzer.builtin.analyze(""))).toMatchObject({ _tag: "AnalysisFailed" })
    }))
})
