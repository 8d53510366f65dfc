/**
 * `fork`: a new execution that replays another's journal up to a root position and runs for real from
 * there. The engine checks the fork point against the source's journal; the storage copies in one
 * transaction (`ExecutionStorageService.fork`), and the copy runs here as a start's would.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { ExecutionStorageService, JournalEntry } from "../../ExecutionStorage.js"
import type { ForkOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import * as Metrics from "../metrics.js"
import { copied } from "../storage/forking.js"
import { CHILD_PREFIX } from "../waits.js"
import { ExecutionIdConflict, InvalidOption } from "./errors.js"
import type * as Observe from "./observe.js"
import type { Registry } from "./registry.js"
import type { Runs } from "./runs.js"
import * as Starting from "./starting.js"

/** A root key: a position without leading zeros. */
const rootKey = /^(?:0|[1-9][0-9]*)$/

const badFromStep = (value: unknown, expected: string) =>
  new InvalidOption({ option: "fromStep", value: JSON.stringify(value) ?? String(value), expected })

/** The root position `fromStep` names, if it is one of the journal's root entries. */
const positionIn = (journal: ReadonlyArray<JournalEntry>, source: string, fromStep: unknown) => {
  const key = typeof fromStep === "number" && Number.isSafeInteger(fromStep) && fromStep >= 0
    ? String(fromStep)
    : typeof fromStep === "string" && rootKey.test(fromStep)
    ? fromStep
    : undefined
  if (key === undefined) {
    return Effect.fail(badFromStep(fromStep, "a root position of the journal: an integer of at least 0, or its key"))
  }
  if (!journal.some((entry) => entry.key === key)) {
    const roots = journal.filter((entry) => !entry.key.includes(".")).length
    return Effect.fail(badFromStep(
      fromStep,
      roots === 0
        ? `a position in the journal of execution "${source}", which is empty`
        : `a position in the journal of execution "${source}": 0 to ${roots - 1}`
    ))
  }
  return Effect.succeed(Number(key))
}

/**
 * Refuses a fork point that copies a child's start but not the receipt of its end: the child's end is
 * signalled to the source, never to a fork, which would wait for it forever.
 */
const childrenEnded = (journal: ReadonlyArray<JournalEntry>, from: number, fromStep: unknown) => {
  const keys = copied(journal, from)
  const copies = journal.filter((entry) => keys.has(entry.key))
  const received = new Set(
    copies.flatMap((entry) => entry.kind === "signal" && entry.state === "completed" ? [entry.name] : [])
  )
  const unended = copies.find((entry) =>
    entry.kind === "child" && entry.result?._tag === "Success" &&
    !received.has(`${CHILD_PREFIX}${String(entry.result.value)}`)
  )
  return unended === undefined ? Effect.void : Effect.fail(badFromStep(
    fromStep,
    `a position at or before ${unended.key}, where child ${
      JSON.stringify(unended.result?._tag === "Success" ? unended.result.value : undefined)
    } was started, or after the receipt of its end (a child's end reaches the execution that started it only)`
  ))
}

export interface ForkingOptions {
  readonly storage: ExecutionStorageService
  readonly registry: Registry
  readonly runs: Runs
  readonly observe: ReturnType<typeof Observe.make>
  readonly clock: Clock.Clock
  readonly cancel: WorkflowEngineService["cancel"]
}

export const make = ({ cancel, clock, observe, registry, runs, storage }: ForkingOptions) =>
(
  executionId: string,
  options: ForkOptions
): ReturnType<WorkflowEngineService["fork"]> =>
  Effect.gen(function*() {
    const source = yield* storage.get(executionId)
    const definition = yield* registry.find(source.workflow)
    yield* Starting.versionHere(registry, definition, source)
    const fork = storage.fork
    if (fork === undefined) {
      return yield* new InvalidOption({
        option: "fork",
        value: JSON.stringify(executionId),
        expected: "a storage that can fork (memory, SQLite, PostgreSQL; a storage of your own needs fork)"
      })
    }
    const id = yield* Starting.newId(options)
    // Root entries only grow and complete: what is checked here still holds in the storage's snapshot.
    const journal = yield* storage.journal(executionId)
    const fromStep = options?.fromStep
    const from = yield* positionIn(journal, executionId, fromStep)
    yield* childrenEnded(journal, from, fromStep)
    const claimedAt = clock.unsafeCurrentTimeMillis()
    const { created, record } = yield* fork({ source: executionId, id, from, claim: runs.claim })
    if (record.workflow !== source.workflow) {
      return yield* new ExecutionIdConflict({
        executionId: id,
        workflow: source.workflow,
        existingWorkflow: record.workflow
      })
    }
    // Claimed by the copy: its run reads the journal copied.
    if (created) {
      Metrics.started(record.workflow)
      yield* runs.launch(id, definition, { record, claimedAt, started: true })
    }
    return observe.handle<unknown>(id, record.workflow, created, cancel(id))
  }).pipe(Effect.withSpan("WorkflowEngine.fork", { attributes: { executionId } }))
