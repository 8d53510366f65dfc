/**
 * Issue 10, item 8: a key named `__proto__` in chat arguments must never set
 * a prototype. `key=value` pairs are read as plain own keys; input holding a
 * `__proto__` key, on any path (key=value, JSON, a workflow's `parseArgs`, a
 * plan's task), is refused with a clear error before anything runs;
 * `constructor`, `prototype` and the like stay plain data. The workflow
 * takes a `Record`, whose decoding would turn an own `__proto__` key into the
 * prototype of the input it hands the body.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ChatAdapter, Commands, ExecutionStorage, Models, Planning, Workflow, WorkflowEngine } from "../src/index.js"
import { prototypeKeyPath } from "../src/internal/prototypeKeys.js"
import * as TextTasks from "../src/internal/textTasks.js"

/** What the body sees: whether it inherits `isAdmin`, and its own keys. */
const whoami = Workflow.make({
  name: "whoami",
  input: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  run: (input) =>
    Effect.succeed({
      isAdmin: (input as { isAdmin?: unknown }).isAdmin ?? null,
      plainPrototype: Object.getPrototypeOf(input) === Object.prototype,
      keys: Object.keys(input)
    })
})

/** A parser that assigns keys: given `__proto__`, it sets its result's prototype. */
const naive = Workflow.make({
  name: "naive",
  parseArgs: (args) => {
    const result: Record<string, unknown> = {}
    for (const pair of args.split(" ")) {
      const [key, value] = pair.split("=")
      result[key!] = JSON.parse(value!)
    }
    return result
  },
  run: (input: unknown) => Effect.succeed((input as { isAdmin?: unknown }).isAdmin ?? null)
})

/** A parser of JSON: its `__proto__` keys are own keys, until something decodes them. */
const jsonArgs = Workflow.make({
  name: "json-args",
  input: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  parseArgs: (args) => JSON.parse(args),
  run: (input) => Effect.succeed((input as { isAdmin?: unknown }).isAdmin ?? null)
})

const chat = <A, E>(
  body: (
    run: (line: string) => Effect.Effect<Commands.Result>,
    text: () => string
  ) => Effect.Effect<A, E, WorkflowEngine.WorkflowEngine | ExecutionStorage.ExecutionStorage>
) =>
  Effect.gen(function*() {
    yield* Planning.register
    const engine = yield* WorkflowEngine.WorkflowEngine
    for (const workflow of [whoami, naive, jsonArgs]) {
      yield* engine.register(workflow as Workflow.Workflow<unknown, unknown, unknown>)
    }
    const { adapter, lines } = ChatAdapter.capture()
    const context = yield* Effect.context<WorkflowEngine.WorkflowEngine | Models.Models | ChatAdapter.Debug>()
    const run = (line: string) =>
      Commands.executeLine(line)!.pipe(Effect.provideService(ChatAdapter.ChatAdapter, adapter), Effect.provide(context))
    return yield* body(run, () => lines.map((line) => line.text).join("\n"))
  }).pipe(Effect.provide(Layer.mergeAll(WorkflowEngine.layerMemory, Models.layerBuiltin, ChatAdapter.layerDebug)))

const storedCount = Effect.map(
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.list({ limit: 1000 })),
  (page) => page.executions.length
)

describe("__proto__ in chat arguments", () => {
  it("key=value pairs are plain own keys: __proto__ sets no prototype", () => {
    const pairs = TextTasks.keyValues(`__proto__={"isAdmin":true} constructor=1 prototype=x`)
    expect(Object.getPrototypeOf(pairs)).toBe(Object.prototype)
    expect(Object.keys(pairs)).toEqual(["__proto__", "constructor", "prototype"])
    expect((pairs as { isAdmin?: unknown }).isAdmin).toBeUndefined()
    expect(prototypeKeyPath(pairs)).toBe("__proto__")
    expect(prototypeKeyPath({ a: [{ b: JSON.parse(`{"__proto__":1}`) }] })).toBe("a.0.b.__proto__")
    expect(prototypeKeyPath({ constructor: { prototype: { isAdmin: true } } })).toBeUndefined()
    expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined()
  })

  it.live("is refused on every input path, before anything is stored", () =>
    chat((run, text) =>
      Effect.gen(function*() {
        const refused = [
          `/workflow run whoami __proto__={"isAdmin":true}`,
          `/workflow run whoami name=x __proto__={"isAdmin":true}`,
          `/workflow run whoami {"__proto__":{"isAdmin":true}}`,
          `/workflow run whoami {"a":{"b":[{"__proto__":{"isAdmin":true}}]}}`,
          `/workflow run whoami a={"__proto__":{"isAdmin":true}}`,
          `/workflow run naive __proto__={"isAdmin":true}`,
          `/workflow run json-args {"__proto__":{"isAdmin":true}}`
        ]
        for (const line of refused) {
          const result = yield* run(line)
          expect(result, line).toMatchObject({ _tag: "Rejected" })
          if (result._tag === "Rejected") expect(result.message).toMatch(/"__proto__" cannot be a key \(at [^)]+\)/)
        }
        expect(text()).toContain(`at a.b.0.__proto__`)
        // /analyze options are a strict schema: an unknown key is named, in one line.
        expect(yield* run(`/analyze __proto__={"model":"x"} -- whoami`)).toMatchObject({
          _tag: "Rejected",
          message: `Invalid options: __proto__: is unexpected, expected: "model" | "plan"`
        })
        expect(yield* storedCount).toBe(0)
        expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined()
      })
    ))

  it.live("constructor, prototype and toString are plain data the workflow sees as its own keys", () =>
    chat((run) =>
      Effect.gen(function*() {
        for (
          const line of [
            `/workflow run whoami constructor=1 prototype=2 toString=3`,
            `/workflow run whoami {"constructor":1,"prototype":2,"toString":3}`
          ]
        ) {
          const result = yield* run(line)
          expect(result).toMatchObject({
            _tag: "Run",
            outcome: {
              _tag: "Completed",
              output: { isAdmin: null, plainPrototype: true, keys: ["constructor", "prototype", "toString"] }
            }
          })
        }
        expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined()
      })
    ))

  it.live("a plan's task that would run a workflow with a __proto__ key fails that task, not the process", () =>
    chat((run, text) =>
      Effect.gen(function*() {
        // The built-in planner takes a JSON object written in a task as its input.
        expect((yield* run(`/plan 1. whoami {"__proto__":{"isAdmin":true}} 2. whoami ok=1`))._tag).toBe("Planned")
        yield* run("/apply")
        expect(text()).toMatch(/task 1: .*"__proto__" cannot be a key \(at __proto__\)/)
        expect(text()).toContain(`→ {"isAdmin":null,"plainPrototype":true,"keys":["ok"]}`)
        expect(text()).toContain("Plan done: 1 completed, 1 failed.")
        expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined()
      })
    ))
})
