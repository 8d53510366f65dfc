/**
 * The journal interpreter: one run of one execution. It asks the journal
 * whether an operation of the body was already done (and returns what it
 * returned), and commits what the body does for the first time through the
 * run's writer. It never decides what a run stores when it ends: that is the
 * engine's (`engine/outcome.ts`).
 *
 * Workflow bodies, `Flow` and the Promise facade reach it only through the
 * functions exported at the bottom, which find the current frame.
 */
import { Cause, Duration, Effect, Exit, Option } from "effect"
import type { Clock, Schedule } from "effect"
import type { Commit, CommitError, ExecutionStorageService, JournalEntry, Writer } from "../ExecutionStorage.js"
import type { ApprovalAnswer, ApprovalRequest, StepOptions } from "../Workflow.js"
import type { EventDraft, WorkflowEvent } from "../WorkflowEvent.js"
import type { Cursor, Frame } from "./cursor.js"
import { nextKey, withFrame } from "./cursor.js"
import type { Run } from "./engine/run.js"
import { suspending } from "./engine/run.js"
import { errorInfo } from "./errorInfo.js"
import { overdue, yieldToEventLoop } from "./eventLoop.js"
import * as JournalCodec from "./journalCodec.js"
import { CommitFailed, NonDeterminism, StepTimeout } from "./workflowErrors.js"

/** A step's start may be held back and stored with its end. */
const hold = { hold: true } as const

/** An event of the execution: its timestamp (now, unless given) and execution id stamped. */
export const stamp = (executionId: string, draft: EventDraft, clock: Clock.Clock): WorkflowEvent =>
  ({
    ...draft,
    timestamp: draft.timestamp ?? clock.unsafeCurrentTimeMillis(),
    workflowInstanceId: executionId
  }) as WorkflowEvent

/**
 * How a failed commit ends a run: a payload the storage cannot hold fails the execution where it was
 * produced; anything else stops the run and leaves the execution as stored.
 */
const commitDefect = (error: CommitError): unknown =>
  error._tag === "InvalidPayload" ? error : new CommitFailed({ error })

export class Instance {
  /** Commits stored synchronously, counted to look at the time only every so often. */
  private commits = 0

  constructor(
    readonly executionId: string,
    readonly workflow: string,
    private readonly writer: Writer,
    /** Read only: to look at an approval again before suspending on it. */
    private readonly storage: ExecutionStorageService,
    private readonly journal: ReadonlyMap<string, JournalEntry>,
    private readonly run: Run,
    private readonly clock: Clock.Clock,
    /**
     * Undefined while this engine's lease is known to be fresh; else an Effect that confirms it with the
     * storage, or dies (the run stops) when another engine may run the execution now.
     */
    private readonly confirmLease: () => Effect.Effect<void> | undefined
  ) {}

  /**
   * Commits, then continues with `next`: the one way this interpreter commits. Call it while the fiber runs
   * (the writer starts the write at once); a write that completed at once costs no Effect operation.
   */
  commitThen<A, E, R>(
    commit: Commit,
    next: () => Effect.Effect<A, E, R>,
    options?: { readonly hold?: boolean }
  ): Effect.Effect<A, E, R> {
    const stored = this.writer.commit(commit, options)
    if (Exit.isExit(stored) && Exit.isSuccess(stored)) {
      // Stored synchronously: every so often, let timers (lease renewals) run during a long burst.
      return (++this.commits & 63) === 0 && overdue() ? Effect.zipRight(yieldToEventLoop, Effect.suspend(next)) : next()
    }
    return Effect.matchEffect(stored, { onFailure: (error) => Effect.die(commitDefect(error)), onSuccess: next })
  }

  event(draft: EventDraft): WorkflowEvent {
    return stamp(this.executionId, draft, this.clock)
  }

  emit(frame: Frame, draft: EventDraft): Effect.Effect<void> {
    const event = this.event(draft)
    if (frame.inStep) return this.commitThen({ events: [event] }, () => Effect.void)
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      return journaled.kind === "emit" && journaled.name === event.type
        ? Effect.void
        : this.nonDeterminism(key, journaled, `a "${event.type}" event`)
    }
    return this.commitThen(
      { events: [event], journal: { key, name: event.type, kind: "emit", state: "completed" } },
      () => Effect.void
    )
  }

  /** Runs a step at `key`: its journaled result if it has one, else its body, journaled. */
  step<A, E, R>(
    frame: Frame,
    cursor: Cursor,
    key: string,
    name: string,
    effect: Effect.Effect<A, E, R>,
    options?: StepOptions<A, E, R>
  ): Effect.Effect<A, E | StepTimeout, R> {
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      if (journaled.kind !== "step" || journaled.name !== name) {
        return this.nonDeterminism(key, journaled, `step "${name}"`)
      }
      if (journaled.state === "completed" && journaled.result !== undefined) {
        return JournalCodec.decode(name, journaled.result, options)
      }
      // Journaled as started only: the step was running when the previous run stopped. Run it again,
      // without a second step_start.
    }
    // A body starts only while this engine surely holds the execution: after a stall (a stopped process, a
    // blocked event loop) the lease is confirmed first, so that two engines never start one step's body.
    const unconfirmed = this.confirmLease()
    if (unconfirmed !== undefined) {
      return Effect.zipRight(unconfirmed, Effect.suspend(() => this.step(frame, cursor, key, name, effect, options)))
    }
    const started = this.clock.unsafeCurrentTimeMillis()
    const inner: Frame = { instance: this, path: key, next: 0, inStep: true }
    const body = attempt(name, effect, options, this.confirmLease)
    const run = (): Effect.Effect<A, E, R> => {
      // The start commit may have taken long (the process stalled while it waited for the database): the
      // lease is checked again right before the body, with nothing asynchronous in between.
      const stale = this.confirmLease()
      if (stale !== undefined) return Effect.zipRight(stale, Effect.suspend(run))
      // Entered right after the start commit: nested steps and events belong to this step until it ends.
      cursor.frame = inner
      return Effect.matchCauseEffect(body, {
        onFailure: (cause) => {
          cursor.frame = frame
          return this.completeStep(key, name, started, Exit.failCause(cause), options as StepOptions<A, any, R>)
        },
        onSuccess: (value) => {
          cursor.frame = frame
          return this.completeStep(key, name, started, Exit.succeed(value), options as StepOptions<A, any, R>)
        }
      })
    }
    if (journaled !== undefined) return Effect.suspend(run)
    const start: WorkflowEvent = options?.input === undefined
      ? { type: "step_start", timestamp: started, runnableName: name, workflowInstanceId: this.executionId }
      : {
        type: "step_start",
        timestamp: started,
        runnableName: name,
        input: options.input,
        workflowInstanceId: this.executionId
      }
    // The start may be held back and stored with the step's end: a fast step is then one write.
    return this.commitThen(
      { events: [start], journal: { key, name, kind: "step", state: "started" } },
      run,
      hold
    )
  }

  private completeStep<A, E>(
    key: string,
    name: string,
    started: number,
    exit: Exit.Exit<A, E>,
    options: StepOptions<A, E, any> | undefined
  ): Effect.Effect<A, E> {
    // Interrupted (cancelled, shut down, or suspended on an approval inside the step), or stopped because a
    // commit inside it (a nested step's) or a lease check failed: nothing to journal, the run stops.
    if (Exit.isFailure(exit) && (Cause.isInterruptedOnly(exit.cause) || stopsTheRun(exit.cause))) return exit
    const result = JournalCodec.encode(exit, options)
    const timestamp = this.clock.unsafeCurrentTimeMillis()
    const end: WorkflowEvent = result._tag === "Success"
      ? {
        type: "step_end",
        timestamp,
        runnableName: name,
        durationMs: timestamp - started,
        output: result.value,
        workflowInstanceId: this.executionId
      }
      : {
        type: "step_end",
        timestamp,
        runnableName: name,
        durationMs: timestamp - started,
        error: result._tag === "Failure" ? errorInfo(result.error) : result.defect,
        workflowInstanceId: this.executionId
      }
    // Go on with what the journal holds wherever it differs from the exit, as a replay would: a result the
    // step's schema could not encode (journaled as a defect), a failure kept as data (no `error` schema).
    const asJournaled = result._tag === "Die"
      ? Exit.isSuccess(exit) || Cause.failureOption(exit.cause)._tag === "Some"
      : result._tag === "Failure" && options?.error === undefined
    // The end may be held back too, until the run's next commit: a step's body never starts before it is
    // stored (that commit journals another entry, so the writer stores the end first), and the last step's
    // end is one write with the run's outcome.
    return this.commitThen(
      { events: [end], journal: { key, name, kind: "step", state: "completed", result } },
      () => asJournaled ? JournalCodec.decode(name, result, options) : exit,
      hold
    )
  }

  approval(frame: Frame, request: ApprovalRequest): Effect.Effect<ApprovalAnswer> {
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      if (journaled.kind !== "approval" || journaled.taskId !== request.taskId) {
        return this.nonDeterminism(key, journaled, `approval "${request.taskId}"`)
      }
      if (journaled.state === "completed" && journaled.result?._tag === "Success") {
        return Effect.succeed(journaled.result.value as ApprovalAnswer)
      }
      const given = this.run.answers.get(request.taskId)
      if (given !== undefined) return Effect.succeed(given)
      // Waiting when this run read its journal. Another process may have answered since: read the entry
      // again, and suspend (marking the execution waiting again) only if it still waits.
      return Effect.flatMap(
        Effect.orDieWith(this.storage.journal(this.executionId), (error) => new CommitFailed({ error })),
        (entries) => {
          const current = entries.find((entry) => entry.key === key)
          if (current?.state === "completed" && current.result?._tag === "Success") {
            return Effect.succeed(current.result.value as ApprovalAnswer)
          }
          // An answer handed over by this process while the journal was read.
          const handed = this.run.answers.get(request.taskId)
          if (handed !== undefined) return Effect.succeed(handed)
          // Waiting again, unless the answer lands first: then the storage refuses, and whoever answered has
          // stored the status `running` (an answer from here launches the next run once this one is out; one
          // from elsewhere is resumed by recovery).
          return this.suspend({ status: "waiting", waitingFor: { key, taskId: request.taskId } })
        }
      )
    }
    const required = this.event({
      type: "human_approval_required",
      taskId: request.taskId,
      dataForApproval: request.dataForApproval,
      ...(request.message !== undefined ? { message: request.message } : {}),
      ...(request.choices !== undefined ? { choices: request.choices } : {})
    })
    return this.suspend({
      events: [required],
      journal: { key, name: `approval:${request.taskId}`, kind: "approval", state: "waiting", taskId: request.taskId },
      status: "waiting"
    })
  }

  /** Commits the waiting state and ends the run. */
  private suspend(commit: Commit): Effect.Effect<never> {
    return Effect.suspend(() => {
      suspending(this.run)
      // Uninterruptible: a sibling branch suspending at the same moment must not roll this request back.
      const stored = Effect.suspend(() => this.writer.commit(commit)).pipe(
        Effect.catchTag("ApprovalNotPending", () => Effect.void),
        Effect.catchAll((error) => Effect.die(commitDefect(error)))
      )
      return Effect.zipRight(Effect.uninterruptible(stored), Effect.interrupt)
    })
  }

  private nonDeterminism(key: string, journaled: JournalEntry, found: string): Effect.Effect<never> {
    const expected = journaled.kind === "emit"
      ? `a "${journaled.name}" event`
      : journaled.kind === "approval"
      ? `approval "${journaled.taskId}"`
      : `step "${journaled.name}"`
    return Effect.die(new NonDeterminism({ executionId: this.executionId, position: key, expected, found }))
  }
}

/** A defect by which the run stops (a commit refused or failed, a lease not confirmed), not the step's own. */
const stopsTheRun = (cause: Cause.Cause<unknown>): boolean =>
  Option.isSome(
    Cause.find(cause, (reason) =>
      reason._tag === "Die" && reason.defect instanceof CommitFailed ? Option.some(reason.defect) : Option.none())
  )

/**
 * A step's body with its timeout and retries. Each retry is a body that starts again, after a wait in which
 * the process may have stalled: it starts only once the lease is confirmed, like the first.
 */
const attempt = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options: StepOptions<A, E, R> | undefined,
  confirmLease: () => Effect.Effect<void> | undefined
): Effect.Effect<A, E | StepTimeout, R> => {
  let result: Effect.Effect<A, E | StepTimeout, R> = effect
  if (options?.timeout !== undefined) {
    const duration = Duration.decode(options.timeout)
    result = Effect.timeoutFail(effect, {
      duration,
      onTimeout: () => new StepTimeout({ step: name, timeout: Duration.format(duration) })
    })
  }
  if (options?.retry !== undefined) {
    const once = result
    const confirmed = Effect.suspend(() => {
      const stale = confirmLease()
      return stale === undefined ? once : Effect.zipRight(stale, once)
    })
    result = Effect.retry(confirmed, options.retry as Schedule.Schedule<unknown, E | StepTimeout, R>)
  }
  return result
}

// ---- the one way in ---------------------------------------------------------

/** A durable step at the next position of the current frame. */
export const step = <A, E, R>(
  operation: string,
  name: string,
  effect: Effect.Effect<A, E, R>,
  options?: StepOptions<A, E, R>
): Effect.Effect<A, E | StepTimeout, R> =>
  withFrame(operation, (frame, cursor) => frame.instance.step(frame, cursor, nextKey(frame), name, effect, options))

/** A durable step at a key allocated beforehand (see `branchKeys`). */
export const stepAt = <A, E, R>(
  operation: string,
  key: string,
  name: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | StepTimeout, R> =>
  withFrame(operation, (frame, cursor) => frame.instance.step(frame, cursor, key, name, effect))

/** Emits an event into the log of the running execution. */
export const emit = (operation: string, draft: EventDraft): Effect.Effect<void> =>
  withFrame(operation, (frame) => frame.instance.emit(frame, draft))

/** Asks for an approval; suspends the execution until it is answered. */
export const approval = (operation: string, request: ApprovalRequest): Effect.Effect<ApprovalAnswer> =>
  withFrame(operation, (frame) => frame.instance.approval(frame, request))

/**
 * The journal keys of `count` concurrent branches, allocated in order before any of them starts, or
 * undefined outside a running workflow.
 */
export const branchKeys = (cursor: Cursor, count: number): ReadonlyArray<string> | undefined => {
  const frame = cursor.frame
  return frame === undefined ? undefined : Array.from({ length: count }, () => nextKey(frame))
}
