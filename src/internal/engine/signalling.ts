/**
 * Signals sent to executions: checked against what the workflow declares,
 * stored in the execution's inbox, and the execution resumed if it waits
 * for one.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import { issuesOf } from "../errorInfo.js"
import type { Signals } from "../notifier.js"
import { stamp } from "../stamp.js"
import { ExecutionFinished, isTerminal } from "../storage/service.js"
import { CHILD_PREFIX } from "../waits.js"
import { InvalidOption, InvalidSignal, storableId } from "./errors.js"
import type { Registry } from "./registry.js"
import * as Runs from "./runs.js"
import { encodedBy } from "./starting.js"

export interface SignallingOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  readonly registry: Registry
  readonly clock: Clock.Clock
  /** Launches here an execution that is running and held by no one, if its workflow is registered here. */
  readonly adopt: (id: string) => Effect.Effect<void>
}

export const make = ({ adopt, clock, registry, signals, storage }: SignallingOptions) => {
  const commitAsEngine = Runs.commitAsEngine(storage, signals)

  /** A signal's payload as stored: checked and encoded by the schema its workflow declares for it, if any. */
  const signalPayload = (id: string, workflow: string, name: string, payload: unknown) => {
    const declared = registry.get(workflow)?.workflow.signals
    if (declared === undefined) return Effect.succeed(payload)
    const schema = declared[name]
    if (schema === undefined) {
      const names = Object.keys(declared)
      return new InvalidSignal({
        executionId: id,
        name,
        issues: [{
          path: [],
          message: `workflow "${workflow}" declares no such signal (it declares: ${names.join(", ") || "none"})`
        }]
      })
    }
    return Effect.mapError(
      encodedBy(schema, payload),
      (error: ParseResult.ParseError) => new InvalidSignal({ executionId: id, name, issues: issuesOf(error) })
    )
  }

  const signal = (id: string, name: string, payload: unknown) =>
    Effect.gen(function*() {
      yield* storableId("signal name", name)
      // A child's end reaches its parent as `child:<id>`: from anyone else it would be a forged end.
      if (name.startsWith(CHILD_PREFIX)) {
        return yield* new InvalidSignal({
          executionId: id,
          name,
          issues: [{
            path: [],
            message: `"${CHILD_PREFIX}" names are the ends of child executions, sent by the engine`
          }]
        })
      }
      if (storage.inbox === undefined) {
        return yield* new InvalidOption({
          option: "signal",
          value: name,
          expected: "a storage with signals (memory, SQLite, PostgreSQL; a storage of your own needs inbox)"
        })
      }
      const record = yield* storage.get(id)
      if (isTerminal(record.status)) return yield* new ExecutionFinished({ executionId: id, status: record.status })
      const stored = yield* signalPayload(id, record.workflow, name, payload)
      yield* commitAsEngine(id, {
        events: [stamp(id, { type: "signal_received", name, payload: stored }, clock)],
        signal: { name, payload: stored }
      }).pipe(Effect.catchTag("ApprovalNotPending", Effect.die))
      // Woken by it (running, held by no one): run here if its workflow is; else where it is.
      yield* adopt(id)
    }).pipe(Effect.withSpan("WorkflowEngine.signal", { attributes: { executionId: id, name } }))
  return signal
}
