/**
 * What the journal interpreter knows of its entries and waits, apart from
 * interpreting them: how an entry is named in a `NonDeterminism`, what a
 * completed signal wait journaled, what a child start needs from the engine.
 */
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { JournalEntry } from "../ExecutionStorage.js"
import type { Any as AnyWorkflow } from "../Workflow.js"
import type { ChildNotStarted } from "./workflowErrors.js"

/** Starts (or finds) the execution `id` of `workflow` (a definition, or the name of a registered one). */
export type Spawn = (workflow: AnyWorkflow | string, input: unknown, id: string) => Effect.Effect<void, ChildNotStarted>

/** The signal names of child ends: `child:<id>` (sent by the engine only). */
export const CHILD_PREFIX = "child:"

/** What a wait's events say it waits for. */
export interface Shown {
  readonly wait: "signal" | "child"
  readonly name: string
}

/** What a completed signal wait journaled: the payload received, or nothing when it timed out. */
export const received = (value: unknown): Option.Option<unknown> =>
  typeof value === "object" && value !== null && "payload" in value ? Option.some(value.payload) : Option.none()

/** A storage written without a member that a body's wait needs. */
export const unsupported = (member: string, feature: string) =>
  new Error(`This execution storage has no \`${member}\`: it cannot keep ${feature}`)

/** A journaled success. */
export const success = (value: unknown) => ({ _tag: "Success", value }) as const

/** A journal entry as a `NonDeterminism` names what the journal expected. */
export const describeEntry = (entry: JournalEntry): string => {
  switch (entry.kind) {
    case "emit":
      return `a "${entry.name}" event`
    case "approval":
      return `approval "${entry.taskId}"`
    case "sleep":
      return "a sleep"
    case "signal":
      return `signal "${entry.name}"`
    case "child":
      return `a child of workflow "${entry.name.slice("child:".length)}"`
    case "patch":
      return `patch "${entry.name}"`
    case "step":
      return `step "${entry.name}"`
  }
}
