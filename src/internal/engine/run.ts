/**
 * A run: this process's run of one execution, from the moment it is
 * launched until its fiber ends. Its lifecycle is one tagged state, changed
 * only by the transitions below.
 *
 *     Launching --loaded--> Running --body waits--> Suspending
 *         |                   |
 *         +------cancel-------+--> Cancelling
 *         +--lease lost-------+--> Abandoned  (also from Suspending)
 *         +--engine closes----+--> ShuttingDown
 *         +--storage failed---+--> Stopped
 *
 * Launching and Running are live; the other states are ways out, and the
 * first one taken sticks: it decides what the run stores when it ends (see
 * `outcome.ts`).
 */
import * as Data from "effect/Data"
import type { Commit } from "../../ExecutionStorage.js"
import type { ApprovalAnswer } from "../../Workflow.js"
import type { TraceIds } from "../telemetry.js"

export type RunState = Data.TaggedEnum<{
  /** Recorded, so that concurrent calls see it; not yet claimed and loaded. */
  Launching: {}
  /** The body runs. */
  Running: {}
  /** The body committed a wait (status `waiting`) and is on its way out. */
  Suspending: {}
  /** `cancel` in this process interrupts it: it stores `cancelled`. */
  Cancelling: {}
  /** Its lease was lost: another engine may run the execution now, so it stores nothing. */
  Abandoned: {}
  /** The engine is closing: it stops and stores nothing, for a later process to resume. */
  ShuttingDown: {}
  /**
   * Storage failed it (its outcome was `Stop`, or storing its outcome failed): it stores nothing more and is
   * on its way out; its followers here are told. Set once its outcome is decided, before they hear of it.
   */
  Stopped: {}
}>

export const RunState = Data.taggedEnum<RunState>()

export interface Run {
  state: RunState
  /** When this engine last knew it held the execution's lease; undefined until it is claimed. */
  leaseConfirmedAt: number | undefined
  /** Its execution is not stored yet: its writer creates it with its first write (see `Fresh.create`). */
  creating: boolean
  /** Answers given while the run was already going, possibly after it read its journal. */
  readonly answers: Map<string, ApprovalAnswer>
  /** The execution's end (and its workflow), once this run has stored it. */
  end: End | undefined
  /** The execution that awaits this one (`Workflow.child`), once loaded: its end is signalled there. */
  parent: string | undefined
  /** The ids of the run's span, once loaded, when it is traced: stamped on the events it stores. */
  trace: TraceIds | undefined
}

export interface End {
  readonly workflow: string
  readonly commit: Commit
}

export const make = (): Run => ({
  state: RunState.Launching(),
  leaseConfirmedAt: undefined,
  creating: false,
  answers: new Map(),
  end: undefined,
  parent: undefined,
  trace: undefined
})

/** Launching or Running: the run goes on, and hears of answers and cancels. */
export const isLive = (run: Run): boolean => run.state._tag === "Launching" || run.state._tag === "Running"

const move = (run: Run, from: ReadonlyArray<RunState["_tag"]>, to: RunState): boolean => {
  if (!from.includes(run.state._tag)) return false
  run.state = to
  return true
}

/** The run has claimed and loaded its execution; its body starts. */
export const loaded = (run: Run): boolean => move(run, ["Launching"], RunState.Running())

/**
 * The body is about to commit a wait. Set before the commit, so that an answer
 * arriving right after it sees a run on its way out, not one still running.
 */
export const suspending = (run: Run): boolean => move(run, ["Running"], RunState.Suspending())

/** The wait it was suspending on was refused (a signal had come): the body goes on. */
export const unsuspended = (run: Run): boolean => move(run, ["Suspending"], RunState.Running())

/** Asked to cancel: true when the caller should interrupt the run's fiber. */
export const cancelling = (run: Run): boolean => move(run, ["Launching", "Running"], RunState.Cancelling())

/** The lease is lost (or a commit was refused as not owned). */
export const abandoned = (run: Run): boolean => move(run, ["Launching", "Running", "Suspending"], RunState.Abandoned())

/** The engine is closing. */
export const shuttingDown = (run: Run): boolean => move(run, ["Launching", "Running"], RunState.ShuttingDown())

/** Storage failed the run: it stores nothing more. */
export const stopped = (run: Run): boolean => move(run, ["Launching", "Running"], RunState.Stopped())

/**
 * On its way out, storing nothing more, and the execution left unfinished for a new run: a launch waits for
 * its fiber to end, then runs the execution again (rather than taking it for the run going on).
 */
export const leaving = (run: Run): boolean => run.state._tag === "Suspending" || run.state._tag === "Stopped"
