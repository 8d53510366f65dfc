/**
 * Five ways to orchestrate work, each a durable workflow on the engine (every
 * step journaled, every event streamed):
 *
 * 1. chaining with a gate: outline → gate → draft → headline;
 * 2. routing: a model classifies a request, one specialised handler answers;
 * 3. parallel fan-out: one summary per section at once, then an aggregator;
 * 4. orchestrator–workers: the built-in planner splits a request into
 *    tasks, workers do them concurrently, the results are synthesised;
 * 5. evaluator–optimizer: a generator revises a draft on a scorer's feedback
 *    until it is accepted or the rounds run out.
 *
 * Where a model is needed it is `ScriptedModel`: a real `@effect/ai`
 * `LanguageModel` whose answers are computed from the prompt by the script
 * below, so the demo runs offline and always the same way.
 *
 *   npx tsx examples/new-workflows-demo.ts
 */
import { LanguageModel } from "@effect/ai"
import { Chunk, Effect, Either, Layer, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Flow, Plan, Planner, ScriptedModel, Workflow, WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"

// ---------------------------------------------------------------------------
// The model: prompts, and the script that answers them
// ---------------------------------------------------------------------------

/** Every prompt the demo sends; the script recognises each by its first words. */
const prompts = {
  outline: (topic: string) => `Outline an article about ${topic}, one numbered point per line.`,
  draft: (outline: string) => `Write one paragraph for each point of this outline:\n${outline}`,
  headline: (outline: string) => `Write a headline for an article with this outline:\n${outline}`,
  classify: (message: string) => `Classify this support request as billing, technical or general.\nRequest: ${message}`,
  desk: (desk: string, expertise: string, message: string) =>
    `You are the ${desk} desk (${expertise}). Answer this request.\nRequest: ${message}`,
  summarise: (heading: string, body: string) => `Summarise the section "${heading}" in one sentence:\n${body}`,
  work: (task: string, request: string) => `Do this task and report in one line: ${task}\nIt is part of: ${request}`,
  pitch: (topic: string, feedback: ReadonlyArray<string>) =>
    [
      `Write a one-sentence pitch for ${topic}.`,
      ...(feedback.length > 0 ? ["Revise it to address this feedback:", ...feedback.map((item) => `- ${item}`)] : [])
    ].join("\n")
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)
const uncapitalise = (text: string) => text.charAt(0).toLowerCase() + text.slice(1)

/** `a`, `a and b`, `a, b and c`. */
const listOf = (items: ReadonlyArray<string>) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/** The points of a numbered outline. */
const pointsOf = (outline: string) =>
  outline.split("\n").map((line) => /^\s*\d+\.\s+(.+)$/.exec(line)?.[1]?.trim()).filter((p) => p !== undefined)

const billingWords = /\b(refund|invoice|charged?|payment|bill(?:ing)?)\b/i
const technicalWords = /\b(error|crash(?:es|ed)?|bug|fails?|failing|timeout|install)\b/i

/** What the scripted model answers: the first rule whose pattern matches the prompt. */
const rules: ReadonlyArray<readonly [RegExp, (match: RegExpExecArray) => unknown]> = [
  [
    /^Outline an article about (.+), one numbered point/,
    ([, topic]) => topic!.split(/,\s*|\s+and\s+/).map((point, i) => `${i + 1}. ${capitalise(point.trim())}`).join("\n")
  ],
  [
    /^Write one paragraph for each point of this outline:\n([\s\S]+)/,
    ([, outline]) =>
      pointsOf(outline!).map((point) => `${point}: what it is, why it matters and how to start.`).join("\n\n")
  ],
  [/^Write a headline for an article with this outline:\n([\s\S]+)/, ([, outline]) => {
    const points = pointsOf(outline!)
    return `${points.length} things to know: ${listOf(points.map((point) => point.toLowerCase()))}`
  }],
  [/^Classify this support request[^\n]*\nRequest: ([\s\S]+)/, ([, message]) => {
    const billing = billingWords.exec(message!)
    const technical = technicalWords.exec(message!)
    return billing !== null
      ? { category: "billing", reason: `mentions "${billing[0]}"` }
      : technical !== null
      ? { category: "technical", reason: `mentions "${technical[0]}"` }
      : { category: "general", reason: "no billing or technical terms" }
  }],
  [/^You are the (\w+) desk[^\n]*\nRequest: ([\s\S]+)/, ([, desk, message]) => {
    const invoice = /#\d+/.exec(message!)?.[0]
    switch (desk) {
      case "billing":
        return `A refund for ${invoice !== undefined ? `invoice ${invoice}` : "your last charge"} is on its way.`
      case "technical":
        return "Please send the full error text and your version; a run with --debug shows which step fails."
      default:
        return "Thanks for writing! The README's tour is the best place to start."
    }
  }],
  [
    /^Summarise the section "([^"]+)" in one sentence:\n([\s\S]+)/,
    ([, heading, body]) => `${heading}: ${body!.split(/(?<=\.)\s/)[0]!.trim()}`
  ],
  [/^Do this task and report in one line: (.+)/, ([, task]) => `Done: ${uncapitalise(task!)}.`],
  // The generator takes in every point of feedback so far: the draft improves round by round.
  [/^Write a one-sentence pitch for (.+)\.([\s\S]*)/, ([, topic, feedback]) => {
    const asked = [...feedback!.matchAll(/^- mention "([^"]+)"$/gm)].map((match) => match[1]!)
    return `${capitalise(topic!)}${asked.length > 0 ? ` that is ${listOf(asked)}` : ""}.`
  }]
]

const script: ScriptedModel.Script = ({ prompt }) => {
  for (const [pattern, answer] of rules) {
    const match = pattern.exec(prompt)
    if (match !== null) return answer(match)
  }
  return `I was not scripted for: ${prompt}`
}

/** Asks the model for text; only the text is journaled. */
const ask = (prompt: string) => Effect.map(LanguageModel.generateText({ prompt }), (response) => response.text)

// ---------------------------------------------------------------------------
// 1. Chaining with a gate
// ---------------------------------------------------------------------------

/**
 * A gate of a chain refused the output of the step before it.
 *
 * @category errors
 */
export class GateRejected extends Schema.TaggedError<GateRejected>()("GateRejected", {
  gate: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `The ${this.gate} gate stopped the chain: ${this.reason}`
  }
}

/** An outline thinner than this is not worth drafting. */
export const MIN_POINTS = 3

/**
 * outline → gate → draft → headline. The gate is a step of its own, so the
 * journal records why a chain stopped.
 */
export const chain = Workflow.make({
  name: "chain-with-gate",
  description: "Outlines a topic, checks the outline, then drafts the article and its headline",
  input: Schema.Struct({ topic: Schema.NonEmptyTrimmedString }),
  output: Schema.Struct({ outline: Schema.Array(Schema.String), article: Schema.String, headline: Schema.String }),
  run: ({ topic }) =>
    Effect.gen(function*() {
      const outline = yield* Workflow.step("outline", ask(prompts.outline(topic)))
      const points = yield* Workflow.step(
        "gate",
        Effect.suspend(() => {
          const points = pointsOf(outline)
          return points.length >= MIN_POINTS
            ? Effect.succeed(points)
            : new GateRejected({
              gate: "outline",
              reason: `the outline has ${points.length} point${points.length === 1 ? "" : "s"}; ` +
                `at least ${MIN_POINTS} are needed`
            })
        })
      )
      yield* Workflow.log("info", `gate passed: ${points.length} points`)
      const article = yield* Workflow.step("draft", ask(prompts.draft(outline)))
      const headline = yield* Workflow.step("headline", ask(prompts.headline(outline)))
      return { outline: points, article, headline }
    })
})

// ---------------------------------------------------------------------------
// 2. Routing
// ---------------------------------------------------------------------------

const Category = Schema.Literal("billing", "technical", "general")

/** The specialised handlers, by the category they take; each answers with a prompt of its own. */
const desks: Record<typeof Category.Type, string> = {
  billing: "refunds, invoices and charges",
  technical: "errors, crashes and installation",
  general: "everything else"
}

export const route = Workflow.make({
  name: "route-request",
  description: "Classifies a support request and hands it to the desk for its category",
  input: Schema.Struct({ message: Schema.NonEmptyTrimmedString }),
  output: Schema.Struct({ category: Category, reason: Schema.String, reply: Schema.String }),
  run: ({ message }) =>
    Effect.gen(function*() {
      // Structured output: the model's answer is decoded by the Schema, a bad category fails the step.
      const { category, reason } = yield* Workflow.step(
        "classify",
        Effect.map(
          LanguageModel.generateObject({
            prompt: prompts.classify(message),
            schema: Schema.Struct({ category: Category, reason: Schema.String }),
            objectName: "route"
          }),
          (response) => response.value
        )
      )
      yield* Workflow.log("info", `routed to ${category}: ${reason}`)
      const reply = yield* Workflow.step(category, ask(prompts.desk(category, desks[category], message)))
      return { category, reason, reply }
    })
})

// ---------------------------------------------------------------------------
// 3. Parallel fan-out with an aggregator
// ---------------------------------------------------------------------------

const Section = Schema.Struct({ heading: Schema.String, body: Schema.String })

export const fanOut = Workflow.make({
  name: "summarise-sections",
  description: "Summarises every section of a document at once, then writes a digest",
  input: Schema.Struct({ title: Schema.String, sections: Schema.Array(Section).pipe(Schema.minItems(1)) }),
  output: Schema.Struct({ summaries: Schema.Array(Schema.String), digest: Schema.String }),
  run: ({ sections, title }) =>
    Effect.gen(function*() {
      // One journaled branch per section (summarise[0], summarise[1], ...), all running at once.
      const summaries = yield* Flow.parallel(
        "summarise",
        sections.length,
        (i) => ask(prompts.summarise(sections[i]!.heading, sections[i]!.body))
      )
      const digest = yield* Workflow.step(
        "aggregate",
        Effect.sync(() => {
          const words = sections.reduce((n, section) => n + section.body.split(/\s+/).length, 0)
          return [`${title} (${sections.length} sections, ${words} words)`, ...summaries.map((s) => `- ${s}`)]
            .join("\n")
        })
      )
      return { summaries, digest }
    })
})

// ---------------------------------------------------------------------------
// 4. Orchestrator–workers
// ---------------------------------------------------------------------------

export const orchestrate = Workflow.make({
  name: "orchestrator-workers",
  description: "Plans a request into tasks, has a worker do each at once, then synthesises a report",
  input: Schema.Struct({ request: Schema.NonEmptyTrimmedString }),
  output: Schema.Struct({
    tasks: Schema.Array(Schema.String),
    results: Schema.Array(Schema.String),
    report: Schema.String
  }),
  run: ({ request }) =>
    Effect.gen(function*() {
      // The tasks are only known once planned: the plan is journaled, so a resumed run gets the same workers.
      const plan = yield* Workflow.step(
        "plan",
        Planner.builtin.plan({ prompt: request, workflows: [] }),
        { success: Plan.Plan as Schema.Schema<Plan.Plan, any> }
      )
      const tasks = plan.tasks.map((task) => task.description)
      yield* Workflow.log("info", `planned ${tasks.length} tasks`, Plan.format(plan))
      const results = yield* Flow.all("workers", tasks.map((task) => ask(prompts.work(task, request))))
      const report = yield* Workflow.step(
        "synthesise",
        Effect.sync(() => results.map((result, i) => `${i + 1}. ${result}`).join("\n"))
      )
      return { tasks, results, report }
    })
})

// ---------------------------------------------------------------------------
// 5. Evaluator–optimizer with a bounded loop
// ---------------------------------------------------------------------------

const Review = Schema.Struct({ score: Schema.Number, accepted: Schema.Boolean, feedback: Schema.String })

/**
 * The evaluator: a draft is accepted once it mentions every required term.
 * Like a reviewer it raises one point at a time, the first missing term.
 */
export const evaluate = (draft: string, mustMention: ReadonlyArray<string>): typeof Review.Type => {
  const missing = mustMention.filter((term) => !draft.toLowerCase().includes(term.toLowerCase()))
  return {
    score: (mustMention.length - missing.length) / Math.max(1, mustMention.length),
    accepted: missing.length === 0,
    feedback: missing.length === 0 ? "" : `mention "${missing[0]}"`
  }
}

export const refine = Workflow.make({
  name: "evaluator-optimizer",
  description: "Drafts a pitch and revises it on the evaluator's feedback until accepted or out of rounds",
  input: Schema.Struct({
    topic: Schema.NonEmptyTrimmedString,
    mustMention: Schema.Array(Schema.NonEmptyTrimmedString),
    maxRounds: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10)), { default: () => 3 })
  }),
  output: Schema.Struct({
    accepted: Schema.Boolean,
    rounds: Schema.Int,
    draft: Schema.String,
    history: Schema.Array(Schema.Struct({ round: Schema.Int, draft: Schema.String, ...Review.fields }))
  }),
  run: ({ maxRounds, mustMention, topic }) =>
    Effect.gen(function*() {
      const feedback: Array<string> = []
      const history: Array<{ round: number; draft: string } & typeof Review.Type> = []
      // Each round's steps have names of their own, so the journal holds every draft and every verdict.
      for (let round = 1; round <= maxRounds; round++) {
        const draft = yield* Workflow.step(`round ${round}: generate`, ask(prompts.pitch(topic, feedback)))
        yield* Workflow.chunk(draft)
        const review = yield* Workflow.step(`round ${round}: evaluate`, Effect.sync(() => evaluate(draft, mustMention)))
        history.push({ round, draft, ...review })
        if (review.accepted) return { accepted: true, rounds: round, draft, history }
        yield* Workflow.log("info", `round ${round}: score ${review.score.toFixed(2)}, feedback: ${review.feedback}`)
        feedback.push(review.feedback)
      }
      return { accepted: false, rounds: maxRounds, draft: history[history.length - 1]!.draft, history }
    })
})

// ---------------------------------------------------------------------------
// Running them
// ---------------------------------------------------------------------------

/** What the demo runs on: an in-memory engine and the scripted model. */
export const layer = Layer.merge(WorkflowEngine.layerMemory, ScriptedModel.layer(script))

/**
 * One finished execution: its stored events and how it ended, a failure
 * given as the stored error (its `name` is the error's tag).
 */
export interface Run<A> {
  readonly workflow: string
  readonly input: unknown
  readonly events: ReadonlyArray<WorkflowEvent.StoredEvent>
  readonly result: Either.Either<A, WorkflowEvent.ErrorInfo>
}

/** Starts `workflow` on the engine in context and waits for it to end. */
export const execute = <A, I, E, R>(workflow: Workflow.Workflow<A, I, E, R>, input: I) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const handle = yield* engine.start(workflow, input)
    // The stream replays what is stored, follows live events, and ends with the execution.
    const events = Chunk.toReadonlyArray(yield* Stream.runCollect(handle.events))
    const result = yield* handle.result.pipe(
      Effect.map(Either.right),
      Effect.catchTag("WorkflowFailed", (failed) => Effect.succeed(Either.left(failed.error)))
    )
    const run: Run<A> = { workflow: workflow.name, input, events, result }
    return run
  })

/** The names of the steps an execution completed (or failed), in the order they ended. */
export const stepsOf = (run: Run<unknown>): ReadonlyArray<string> =>
  run.events.flatMap((event) => event.type === "step_end" ? [event.runnableName ?? "?"] : [])

/** The inputs the demo runs each style on: a passing and a failing case where the style has both. */
export const inputs = {
  chain: {
    good: { topic: "durable steps, approvals and live events" },
    thin: { topic: "workflows" }
  },
  route: [
    { message: "I was charged twice for invoice #1042, please refund one." },
    { message: "The CLI crashes with an error when I resume an execution." },
    { message: "Do you have a newsletter?" }
  ],
  fanOut: {
    title: "Release notes 0.2",
    sections: [
      { heading: "Storage", body: "PostgreSQL joins SQLite as durable storage. Both share one commit program." },
      { heading: "Planning", body: "Prompts can be planned into tasks and applied. A model is optional." },
      { heading: "Approvals", body: "An approval now survives restarts. Answers resume the execution." }
    ]
  },
  orchestrate: {
    request: [
      "Prepare the 0.2 release:",
      "1. Check the schema migrations",
      "2. Update the README tour",
      "3. Run the benchmarks",
      "4. Write the changelog entry"
    ].join("\n")
  },
  refine: {
    accepted: { topic: "a workflow engine for TypeScript", mustMention: ["durable", "observable"], maxRounds: 4 },
    bounded: {
      topic: "a workflow engine for TypeScript",
      mustMention: ["durable", "observable", "typed", "resumable", "tested"],
      maxRounds: 3
    }
  }
}

/** Runs every style on the demo's inputs. */
export const demo = Effect.gen(function*() {
  return {
    chain: [yield* execute(chain, inputs.chain.good), yield* execute(chain, inputs.chain.thin)],
    route: yield* Effect.forEach(inputs.route, (input) => execute(route, input)),
    fanOut: [yield* execute(fanOut, inputs.fanOut)],
    orchestrate: [yield* execute(orchestrate, inputs.orchestrate)],
    refine: [yield* execute(refine, inputs.refine.accepted), yield* execute(refine, inputs.refine.bounded)]
  }
})

/** Runs every style on a fresh in-memory engine. */
export const runDemo = () => Effect.runPromise(Effect.provide(demo, layer))

const titles: Record<keyof Effect.Effect.Success<typeof demo>, string> = {
  chain: "1. Chaining with a gate",
  route: "2. Routing",
  fanOut: "3. Parallel fan-out with an aggregator",
  orchestrate: "4. Orchestrator–workers",
  refine: "5. Evaluator–optimizer with a bounded loop"
}

const abridge = (value: unknown, max = 100) => {
  const text = JSON.stringify(value) ?? "undefined"
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** The lines that show what a run did: steps as they ended, logs, and the outcome. */
const describeRun = (run: Run<unknown>): ReadonlyArray<string> => [
  `▶ ${run.workflow} ${abridge(run.input, 110)}`,
  ...run.events.flatMap((event) => {
    switch (event.type) {
      case "step_end":
        return event.error === undefined
          ? [`  ✔ ${event.runnableName} → ${abridge(event.output)}`]
          : [`  ✖ ${event.runnableName}: ${(event.error as WorkflowEvent.ErrorInfo).message}`]
      case "log":
        return [`  [${event.level}] ${event.message}`]
      default:
        return []
    }
  }),
  Either.match(run.result, {
    onLeft: (error) => `  ⇒ stopped: ${error.name}: ${error.message}`,
    onRight: (output) => `  ⇒ ${abridge(output, 400)}`
  })
]

const main = Effect.gen(function*() {
  const results = yield* demo
  for (const [style, runs] of Object.entries(results) as Array<[keyof typeof results, ReadonlyArray<Run<unknown>>]>) {
    console.log(`\n== ${titles[style]}`)
    for (const run of runs) console.log(describeRun(run).join("\n"))
  }
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.runPromiseExit(Effect.provide(main, layer)).then((exit) => {
    if (exit._tag === "Failure") {
      console.error(String(exit.cause))
      process.exitCode = 1
    }
  })
}
