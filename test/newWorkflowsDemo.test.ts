import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { Layer } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as Demo from "../examples/new-workflows-demo.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const run = promisify(execFile)

/** Each test runs on an engine and a scripted model of its own. */
const live = (name: string, body: () => Effect.Effect<void, unknown, Layer.Layer.Success<typeof Demo.layer>>) =>
  it.live(name, () => Effect.provide(body(), Demo.layer))

/** The output of a run that must have completed. */
const outputOf = <A>(run: Demo.Run<A>): A =>
  Either.getOrThrowWith(run.result, (error) => new Error(`${run.workflow} failed: ${error.name}: ${error.message}`))

describe("examples/new-workflows-demo.ts", () => {
  live("chaining: an outline that passes the gate is drafted and given a headline", () =>
    Effect.gen(function*() {
      const result = yield* Demo.execute(Demo.chain, { topic: "retries, timeouts, approvals and streams" })
      expect(Demo.stepsOf(result)).toEqual(["outline", "gate", "draft", "headline"])
      const { article, headline, outline } = outputOf(result)
      expect(outline).toEqual(["Retries", "Timeouts", "Approvals", "Streams"])
      expect(article.split("\n\n")).toHaveLength(4)
      expect(headline).toBe("4 things to know: retries, timeouts, approvals and streams")
    }))

  live("chaining: the gate stops the chain when the outline is too thin", () =>
    Effect.gen(function*() {
      const result = yield* Demo.execute(Demo.chain, { topic: "retries and timeouts" })
      // The gate's failure is journaled; the steps after it never start.
      expect(Demo.stepsOf(result)).toEqual(["outline", "gate"])
      expect(result.events.some((event) => event.type === "step_start" && event.runnableName === "draft")).toBe(false)
      expect(Either.isLeft(result.result) && result.result.left).toMatchObject({
        name: "GateRejected",
        message: `The outline gate stopped the chain: the outline has 2 points; at least ${Demo.MIN_POINTS} are needed`
      })
    }))

  live("routing: each kind of request goes to its own handler", () =>
    Effect.gen(function*() {
      const cases = [
        { message: "Please refund invoice #77, I paid it twice", handler: "billing", reply: "invoice #77" },
        { message: "Resume fails with a timeout", handler: "technical", reply: "error text" },
        { message: "Who maintains this project?", handler: "general", reply: "README" }
      ] as const
      for (const { handler, message, reply } of cases) {
        const result = yield* Demo.execute(Demo.route, { message })
        expect(Demo.stepsOf(result)).toEqual(["classify", handler])
        expect(outputOf(result)).toMatchObject({ category: handler })
        expect(outputOf(result).reply).toContain(reply)
      }
    }))

  live("parallel fan-out: one summary per section, then the aggregate of them all", () =>
    Effect.gen(function*() {
      const sections = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"].map((heading, i) => ({
        heading,
        body: `Section ${heading} has ${i + 1} point${i === 0 ? "" : "s"}. More detail follows.`
      }))
      const result = yield* Demo.execute(Demo.fanOut, { title: "Five parts", sections })
      const { digest, summaries } = outputOf(result)
      expect(summaries).toEqual(
        sections.map(({ heading }, i) => `${heading}: Section ${heading} has ${i + 1} ${i === 0 ? "point" : "points"}.`)
      )
      // Each branch is a journaled step of its own; the aggregator runs once, after all of them.
      const steps = Demo.stepsOf(result)
      expect([...steps].sort()).toEqual(
        ["aggregate", "summarise", ...sections.map((_, i) => `summarise[${i}]`)].sort()
      )
      expect(steps[steps.length - 1]).toBe("aggregate")
      expect(digest.split("\n")).toEqual([
        `Five parts (5 sections, ${sections.reduce((n, s) => n + s.body.split(" ").length, 0)} words)`,
        ...summaries.map((s) => `- ${s}`)
      ])
    }))

  live("orchestrator–workers: the built-in planner's tasks get one worker result each", () =>
    Effect.gen(function*() {
      const request = "Fix the flaky test, then update the docs and finally tag the release"
      const result = yield* Demo.execute(Demo.orchestrate, { request })
      const { report, results, tasks } = outputOf(result)
      expect(tasks).toEqual(["Fix the flaky test", "update the docs", "tag the release"])
      expect(results).toEqual(["Done: fix the flaky test.", "Done: update the docs.", "Done: tag the release."])
      expect(report.split("\n")).toHaveLength(tasks.length)
      const steps = Demo.stepsOf(result)
      expect(steps.filter((step) => /^workers\[\d+\]$/.test(step))).toHaveLength(tasks.length)
      expect(steps[0]).toBe("plan")
      expect(steps[steps.length - 1]).toBe("synthesise")
    }))

  live("evaluator–optimizer: stops as soon as a draft is accepted", () =>
    Effect.gen(function*() {
      const result = yield* Demo.execute(Demo.refine, {
        topic: "a durable engine",
        mustMention: ["durable", "typed"],
        maxRounds: 5
      })
      const output = outputOf(result)
      // "durable" is in the topic: only "typed" is asked for, and the second draft has it.
      expect(output).toMatchObject({ accepted: true, rounds: 2, draft: "A durable engine that is typed." })
      expect(output.history.map(({ score }) => score)).toEqual([0.5, 1])
      expect(Demo.stepsOf(result)).toEqual([
        "round 1: generate",
        "round 1: evaluate",
        "round 2: generate",
        "round 2: evaluate"
      ])
    }))

  live("evaluator–optimizer: stops at the bound when no draft is accepted", () =>
    Effect.gen(function*() {
      const result = yield* Demo.execute(Demo.refine, {
        topic: "an engine",
        mustMention: ["durable", "observable", "typed", "tested"],
        maxRounds: 2
      })
      const output = outputOf(result)
      expect(output).toMatchObject({ accepted: false, rounds: 2, draft: "An engine that is durable." })
      // Each round improves on the last, but two rounds cannot cover four points.
      expect(output.history.map(({ score }) => score)).toEqual([0, 0.25])
      expect(Demo.stepsOf(result)).toEqual([
        "round 1: generate",
        "round 1: evaluate",
        "round 2: generate",
        "round 2: evaluate"
      ])
    }))

  it("runs as a process and prints every style", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/new-workflows-demo.ts"], {
      cwd: root,
      timeout: 60_000
    })
    const lines = stdout.split("\n")
    for (
      const expected of [
        "== 1. Chaining with a gate",
        "  ✖ gate: The outline gate stopped the chain: the outline has 1 point; at least 3 are needed",
        "== 2. Routing",
        "  ✔ billing → \"A refund for invoice #1042 is on its way.\"",
        "== 3. Parallel fan-out with an aggregator",
        "== 4. Orchestrator–workers",
        "  [info] planned 4 tasks",
        "== 5. Evaluator–optimizer with a bounded loop",
        "  ✔ round 3: evaluate → {\"score\":1,\"accepted\":true,\"feedback\":\"\"}"
      ]
    ) {
      expect(lines).toContain(expected)
    }
  }, 60_000)
})
