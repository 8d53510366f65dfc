import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Analyzer, Plan, Planner } from "../src/index.js"

const plan = (prompt: string, workflows: ReadonlyArray<Planner.Candidate> = []) =>
  Planner.builtin.plan({ prompt, workflows })

describe("the built-in planner", () => {
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
