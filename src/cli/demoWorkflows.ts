/**
 * The workflows the CLI registers out of the box, so that a fresh install
 * has something to list, run, approve and plan with.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Workflow from "../Workflow.js"

/**
 * @since 0.1.0
 * @category workflows
 */
export const hello = Workflow.make({
  name: "hello",
  description: "Greets someone (input: name)",
  input: Schema.Struct({ name: Schema.optionalWith(Schema.String, { default: () => "world" }) }),
  output: Schema.String,
  run: ({ name }) => Workflow.step("greet", Effect.succeed(`Hello, ${name}!`), { input: { name } })
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const countWords = Workflow.make({
  name: "count-words",
  description: "Counts the words of a text and reports the most frequent (input: text)",
  input: Schema.Struct({ text: Schema.String }),
  output: Schema.Struct({ words: Schema.Number, top: Schema.Array(Schema.Tuple(Schema.String, Schema.Number)) }),
  run: ({ text }) =>
    Effect.gen(function*() {
      const words = yield* Workflow.step(
        "split",
        Effect.sync(() => text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [])
      )
      const top = yield* Workflow.step(
        "rank",
        Effect.sync(() => {
          const counts = new Map<string, number>()
          for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1)
          return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3)
        })
      )
      return { words: words.length, top }
    })
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const slowCount = Workflow.make({
  name: "slow-count",
  description:
    "Counts to `to` (default 10), one journaled step every `delayMs` (default 500): for progress and crash demos",
  input: Schema.Struct({
    to: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 10 }),
    delayMs: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 60_000)), { default: () => 500 })
  }),
  output: Schema.Number,
  run: ({ delayMs, to }) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 1; i <= to; i++) {
        total += yield* Workflow.step(`count ${i}`, Effect.as(Effect.sleep(Duration.millis(delayMs)), i))
      }
      yield* Workflow.log("info", `Counted to ${to}`)
      return total
    })
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const release = Workflow.make({
  name: "release",
  description: "Builds a release, asks for approval, then publishes it (input: version)",
  input: Schema.Struct({ version: Schema.optionalWith(Schema.String, { default: () => "1.0.0" }) }),
  output: Schema.String,
  run: ({ version }) =>
    Effect.gen(function*() {
      const artifact = yield* Workflow.step("build", Effect.succeed(`app-${version}.tgz`))
      const answer = yield* Workflow.approval({
        taskId: "publish",
        dataForApproval: { artifact },
        message: `Publish ${artifact}?`,
        choices: ["approved", "rejected"]
      })
      if (answer.status !== "approved") {
        return `${artifact} not published${answer.feedback ? `: ${answer.feedback}` : ""}`
      }
      yield* Workflow.step("publish", Effect.succeed(artifact))
      return `${artifact} published`
    })
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const all: ReadonlyArray<Workflow.Any> = [hello, countWords, slowCount, release]
