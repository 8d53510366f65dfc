/**
 * The main job for now: runs an example workflow end to end on the embedded
 * default storage (a SQLite file under .workflow/ in the working directory)
 * and prints its events live. A reviewer "answers" the approval from code
 * when asked.
 *
 *   npm start -- "durable workflows"
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { ExecutionStorage, Flow, Workflow, WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"

const Article = Schema.Struct({
  title: Schema.String,
  sections: Schema.Array(Schema.String),
  published: Schema.Boolean
})

export const writeArticle = Workflow.make({
  name: "write-article",
  description: "Researches a topic, drafts sections in parallel, asks for approval and publishes",
  input: Schema.Struct({ topic: Schema.String.pipe(Schema.minLength(1)) }),
  output: Article,
  run: ({ topic }) =>
    Effect.gen(function*() {
      const facts = yield* Workflow.step(
        "research",
        Effect.as(Effect.sleep("50 millis"), [`what ${topic} are`, `why ${topic} matter`, `how to start with ${topic}`])
      )
      yield* Workflow.log("info", `found ${facts.length} angles`)
      const sections = yield* Flow.parallel("draft", facts.length, (i) =>
        Effect.gen(function*() {
          yield* Effect.sleep(`${30 * (i + 1)} millis`)
          const section = `Section ${i + 1}: ${facts[i]}.`
          yield* Workflow.chunk(section)
          return section
        }))
      const title = `A short guide to ${topic}`
      const answer = yield* Workflow.approval({
        taskId: "publish",
        dataForApproval: { title, sections },
        message: `Publish "${title}"?`,
        choices: ["approved", "rejected"]
      })
      const published = answer.status === "approved" &&
        (yield* Workflow.step("publish", Effect.as(Effect.sleep("20 millis"), true)))
      return { title, sections, published }
    })
})

const render = (event: WorkflowEvent.StoredEvent): string => {
  const at = `#${String(event.seq).padStart(2)}`
  switch (event.type) {
    case "step_start":
      return `${at} ▶ ${event.runnableName}`
    case "step_end":
      return `${at} ${event.error === undefined ? "✔" : "✖"} ${event.runnableName} (${event.durationMs} ms)`
    case "log":
      return `${at} [${event.level}] ${event.message}`
    case "output_chunk":
      return `${at} … ${String(event.data)}`
    case "final_output":
      return `${at} ⇒ ${JSON.stringify(event.data)}`
    case "workflow_error":
      return `${at} ✖ ${event.error.name}: ${event.error.message}`
    case "human_approval_required":
      return `${at} ? ${event.message ?? event.taskId} (${event.choices?.join("/") ?? "answer"})`
    case "human_approval_completed":
      return `${at} ✔ ${event.taskId}: ${event.status}${event.feedback ? ` — ${event.feedback}` : ""}`
    case "schema_definition":
      return `${at} schema ${JSON.stringify(event.schema)}`
    case "wait_started":
      return `${at} ⏸ ${event.wait}${event.name === undefined ? "" : ` "${event.name}"`}`
    case "wait_ended":
      return `${at} ⏵ ${event.wait}${event.timedOut === true ? " (timed out)" : ""}`
    case "signal_received":
      return `${at} ✉ ${event.name}`
    case "child_started":
      return `${at} ⤷ ${event.workflow} ${event.executionId}`
  }
}

const main = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const topic = process.argv[2] ?? "durable workflows"
  const handle = yield* engine.start(writeArticle, { topic })
  console.log(`execution ${handle.id} (${handle.workflow}) stored in ${database}`)
  yield* handle.events.pipe(
    Stream.runForEach((event) =>
      Effect.gen(function*() {
        console.log(render(event))
        if (event.type === "human_approval_required") {
          // A reviewer answering from code; a chat or CLI would ask a person.
          yield* engine.approve(handle.id, event.taskId, { status: "approved", feedback: "looks good" })
        }
      })
    )
  )
  const article = yield* handle.result
  console.log(`\n${article.title}\n${article.sections.join("\n")}\npublished: ${article.published}`)
})

const database = ".workflow/workflow.db"
const engine = WorkflowEngine.layer.pipe(Layer.provideMerge(ExecutionStorage.layerSqlite({ filename: database })))

Effect.runPromiseExit(main.pipe(Effect.provide(engine))).then((exit) => {
  if (exit._tag === "Failure") {
    console.error(String(exit.cause))
    process.exitCode = 1
  }
})
