/**
 * Versions on every storage: `Workflow.patched` lets a changed body resume
 * executions journaled by the code before the change, and a workflow's
 * `version`, stored with each execution, keeps an engine from running
 * executions of another version.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { breathe, startEngine, stored, until, waiting } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

const versionSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`versions on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.live("a patched body resumes an execution journaled by the code before the patch on the old path", () =>
      withStorage(Effect.gen(function*() {
        const workflow = `${name}-patched`
        const ran: Array<string> = []
        const step = (label: string) => Workflow.step(label, Effect.sync(() => (ran.push(label), label)))
        const before = Workflow.make({
          name: workflow,
          run: () =>
            Effect.gen(function*() {
              yield* step("one")
              yield* Workflow.signal("go", Schema.Number)
              return yield* step("old two")
            })
        })
        // The deployed change: a new step before the wait, for executions that get there with this code.
        const after = Workflow.make({
          name: workflow,
          run: () =>
            Effect.gen(function*() {
              yield* step("one")
              if (yield* Workflow.patched("audit")) yield* step("audit")
              yield* Workflow.signal("go", Schema.Number)
              return yield* step((yield* Workflow.patched("new-two")) ? "new two" : "old two")
            })
        })
        const old = yield* startEngine()
        const journaledBefore = yield* old.engine.start(before, null)
        yield* until("it waits", waiting(journaledBefore.id))
        yield* old.stop

        const patched = yield* startEngine()
        yield* patched.engine.register(after)
        const fresh = yield* patched.engine.start(after, null)
        yield* until("the new one waits", waiting(fresh.id))
        yield* patched.engine.signal(journaledBefore.id, "go", 1)
        yield* patched.engine.signal(fresh.id, "go", 2)
        // Journaled past "audit" before it existed: no audit, and no NonDeterminism; the new two is new code's.
        expect(yield* patched.engine.result(journaledBefore.id)).toBe("new two")
        expect(yield* patched.engine.result(fresh.id)).toBe("new two")
        expect(ran).toEqual(["one", "one", "audit", "new two", "new two"])
      })))

    it.live("an engine runs only the executions of its workflow's version; one of that version runs the rest", () =>
      withStorage(Effect.gen(function*() {
        const make = (version: string) =>
          Workflow.make({
            name: `${name}-versioned`,
            version,
            run: () => Effect.map(Workflow.signal("go", Schema.Number), (n) => `${version}: ${n}`)
          })
        const first = yield* startEngine({ lease: "1 second" })
        const handle = yield* first.engine.start(make("1"), null)
        yield* until("it waits", waiting(handle.id))
        expect((yield* stored(handle.id)).version).toBe("1")
        yield* first.stop

        const second = yield* startEngine({ lease: "1 second" })
        yield* second.engine.register(make("2"))
        yield* second.engine.signal(handle.id, "go", 5)
        const resumed = yield* Effect.either(second.engine.resume(handle.id))
        expect(resumed._tag === "Left" && resumed.left._tag).toBe("WorkflowNotFound")
        // Not run here: still running, held by no one, its signal unreceived.
        for (let i = 0; i < 50; i++) yield* breathe
        expect((yield* stored(handle.id)).status).toBe("running")

        const third = yield* startEngine({ lease: "1 second" })
        yield* third.engine.register(make("1"))
        expect(yield* third.engine.result(handle.id)).toBe("1: 5")
      })))
  })

onEveryStorage(versionSuite)
