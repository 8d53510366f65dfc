import { Cause, Data, Duration, Effect, Either, Exit, FiberRef, Schema } from "effect"
import type { Clock, Schedule } from "effect"
import type { ApprovalAnswer, ApprovalRequest, StepOptions } from "../Workflow.js"
import { NonDeterminism, StepTimeout } from "../Workflow.js"
import type { WorkflowEvent } from "../WorkflowEvent.js"
import { errorInfo } from "../WorkflowEvent.js"
import type { Commit, CommitError, ExecutionStorageService, JournalEntry, JournalResult } from "./executionStorage.js"

/**
 * An event as a workflow hands it over: the runtime stamps the timestamp (if
 * missing) and the execution id.
 *
 * @internal
 */
export type EventDraft = WorkflowEvent extends infer E
  ? E extends WorkflowEvent ? Omit<E, "timestamp"> & { readonly timestamp?: number }
  : never
  : never

/**
 * Where in the workflow body a fiber is. Journal keys are positions: the n-th
 * journaled operation of the root is "n", of the step at "n" is "n.0", "n.1"...
 * Concurrent branches get frames of their own, so keys do not depend on
 * scheduling.
 *
 * @internal
 */
export interface Frame {
  readonly runtime: ExecutionRuntime
  readonly path: string
  next: number
  readonly inStep: boolean
}

/**
 * The current frame, held in a per-fiber mutable cursor: each forked fiber
 * gets a cursor of its own (`fork`), and a child's cursor never flows back
 * into its parent (`join`). A step moves the cursor in and out by assignment,
 * which is much cheaper than `FiberRef.set`/`Effect.locally` on the hot path.
 *
 * @internal
 */
export interface Cursor {
  frame: Frame | undefined
}

/** @internal */
export const currentCursor = FiberRef.unsafeMake<Cursor>({ frame: undefined }, {
  fork: (parent) => ({ frame: parent.frame }),
  join: (parent) => parent
})

/** @internal */
export const rootCursor = (runtime: ExecutionRuntime): Cursor => ({
  frame: { runtime, path: "", next: 0, inStep: false }
})

const nextKey = (frame: Frame): string => {
  const n = frame.next++
  return frame.path === "" ? String(n) : `${frame.path}.${n}`
}

/**
 * The frame of the running workflow, for operations that only make sense
 * inside one.
 *
 * @internal
 */
export const withFrame = <A, E, R>(
  operation: string,
  f: (frame: Frame, cursor: Cursor) => Effect.Effect<A, E, R>
) =>
  FiberRef.getWith(currentCursor, (cursor) =>
    cursor.frame === undefined
      ? Effect.dieMessage(`${operation} can only be used inside a running workflow`)
      : f(cursor.frame, cursor))

/**
 * A commit of the running execution failed. Fatal to this run: the execution
 * stays as stored, to be resumed (or it was finished by someone else).
 *
 * @internal
 */
export class CommitFailed extends Data.TaggedError("CommitFailed")<{
  readonly error: CommitError
}> {
  override get message(): string {
    return this.error.message
  }
}

/**
 * How a failed commit ends a run: a payload the storage cannot hold fails the execution where it was
 * produced; anything else stops the run and leaves the execution as stored.
 */
const commitDefect = (error: CommitFailed["error"]): unknown =>
  error._tag === "InvalidPayload" ? error : new CommitFailed({ error })

/**
 * An event of the execution: its timestamp (now, unless given) and execution id stamped.
 *
 * @internal
 */
export const stamp = (executionId: string, draft: EventDraft, clock: Clock.Clock): WorkflowEvent =>
  ({
    ...draft,
    timestamp: draft.timestamp ?? clock.unsafeCurrentTimeMillis(),
    workflowInstanceId: executionId
  }) as WorkflowEvent

/**
 * A step that died (a defect) is journaled as such; on replay it dies again with this.
 *
 * @internal
 */
export class ReplayedDefect extends Data.TaggedError("ReplayedDefect")<{
  readonly name: string
  readonly message: string
}> {}

/**
 * The state of one run of one execution. It is the service behind
 * `Workflow.ExecutionContext`.
 *
 * @since 0.1.0
 * @category models
 */
export class ExecutionRuntime {
  /** Set when the body suspended on an approval. */
  suspended = false

  constructor(
    /** The id of the running execution. */
    readonly executionId: string,
    /** The name of the running workflow. */
    readonly workflow: string,
    /** The engine that claimed the execution for this run: every commit of the run is guarded by it. */
    private readonly owner: string,
    private readonly storage: ExecutionStorageService,
    private readonly journal: ReadonlyMap<string, JournalEntry>,
    /** Answers stored after this run read its journal. */
    private readonly answers: ReadonlyMap<string, ApprovalAnswer>,
    private readonly notify: () => void,
    private readonly clock: Clock.Clock
  ) {}

  /** @internal */
  commit(commit: Commit): Effect.Effect<void> {
    return this.commitThen(commit, () => Effect.void)
  }

  /**
   * Commits, wakes subscribers, then continues with `next` (computed after the commit). Fused into one
   * continuation because it sits twice on every step's path.
   *
   * @internal
   */
  commitThen<A, E, R>(commit: Commit, next: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.storage.commitSync === undefined
      ? Effect.matchEffect(this.storage.commit(this.executionId, commit), {
        // A payload the storage cannot hold fails the execution where it was produced; anything else
        // stops the run and leaves the execution as stored.
        onFailure: (error) => Effect.die(commitDefect(error)),
        onSuccess: () => {
          this.notify()
          return next()
        }
      })
      : Effect.suspend(() => this.commitNowThen(commit, next))
  }

  /**
   * `commitThen` for callers already running in the fiber (inside a continuation): with a synchronous
   * storage the commit happens right here, without another Effect operation.
   */
  private commitNowThen<A, E, R>(commit: Commit, next: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const commitSync = this.storage.commitSync
    if (commitSync === undefined) return this.commitThen(commit, next)
    try {
      commitSync(this.executionId, commit)
    } catch (error) {
      return Effect.die(commitDefect(error as CommitError))
    }
    this.notify()
    return next()
  }

  /**
   * A step's start, then its body: a storage that can hold the start back stores it with the step's end
   * when that comes soon enough (one write instead of two).
   */
  private startThen<A, E, R>(commit: Commit, next: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const holdStart = this.storage.holdStart
    if (holdStart === undefined) return this.commitNowThen(commit, next)
    try {
      holdStart(this.executionId, commit, this.notify)
    } catch (error) {
      return Effect.die(commitDefect(error as CommitError))
    }
    return next()
  }

  /** @internal */
  event(draft: EventDraft): WorkflowEvent {
    return stamp(this.executionId, draft, this.clock)
  }

  /** Allocates the journal keys of `count` concurrent branches, in order. @internal */
  branchKeys(frame: Frame, count: number): ReadonlyArray<string> {
    return Array.from({ length: count }, () => nextKey(frame))
  }

  /** @internal */
  emit(frame: Frame, draft: EventDraft): Effect.Effect<void> {
    const event = this.event(draft)
    if (frame.inStep) return this.commit({ events: [event], owner: this.owner })
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      return journaled.kind === "emit" && journaled.name === event.type
        ? Effect.void
        : this.nonDeterminism(key, journaled, `a "${event.type}" event`)
    }
    return this.commit({
      events: [event],
      journal: { key, name: event.type, kind: "emit", state: "completed" },
      owner: this.owner
    })
  }

  /** @internal */
  step<A, E, R>(
    frame: Frame,
    cursor: Cursor,
    name: string,
    effect: Effect.Effect<A, E, R>,
    options?: StepOptions<A, E, R>
  ) {
    return this.stepAt(frame, cursor, nextKey(frame), name, effect, options)
  }

  /** Runs a step at a key allocated beforehand (see `branchKeys`). @internal */
  stepAt<A, E, R>(
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
        return this.replay(name, journaled.result, options)
      }
      // Journaled as started only: the step was running when the previous run stopped. Run it again,
      // without a second step_start.
    }
    const started = this.clock.unsafeCurrentTimeMillis()
    const inner: Frame = { runtime: this, path: key, next: 0, inStep: true }
    const body = attempt(name, effect, options)
    const run = () => {
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
    // stepAt runs while the fiber executes (its callers invoke it from FiberRef.getWith), so it may commit now.
    return this.startThen(
      { events: [start], journal: { key, name, kind: "step", state: "started" }, owner: this.owner },
      run
    )
  }

  private completeStep<A, E>(
    key: string,
    name: string,
    started: number,
    exit: Exit.Exit<A, E>,
    options: StepOptions<A, E, any> | undefined
  ): Effect.Effect<A, E> {
    // Interrupted (cancelled, shut down, or suspended on an approval inside the step): nothing to journal.
    if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return exit
    const result = journalResult(exit, options)
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
    // A result the step's schema could not encode is journaled as a defect: fail with it now too, as a
    // replay would, rather than go on with a value the journal does not hold.
    const unencodable = result._tag === "Die" &&
      (Exit.isSuccess(exit) || Cause.failureOption(exit.cause)._tag === "Some")
    return this.commitNowThen(
      { events: [end], journal: { key, name, kind: "step", state: "completed", result }, owner: this.owner },
      () => unencodable ? this.replay(name, result, options) : exit
    )
  }

  private replay<A, E>(name: string, result: JournalResult, options?: StepOptions<A, E, any>): Effect.Effect<A, E> {
    switch (result._tag) {
      case "Success":
        return options?.success === undefined
          ? Effect.succeed(result.value as A)
          : Effect.orDieWith(
            Schema.decodeUnknown(options.success)(result.value),
            (error) =>
              new ReplayedDefect({
                name: "JournalDecodeError",
                message: `journaled result of step "${name}": ${error.message}`
              })
          )
      case "Failure":
        return options?.error === undefined
          ? Effect.fail(result.error as E)
          : Effect.flatMap(
            Effect.orDieWith(
              Schema.decodeUnknown(options.error)(result.error),
              (error) =>
                new ReplayedDefect({
                  name: "JournalDecodeError",
                  message: `journaled error of step "${name}": ${error.message}`
                })
            ),
            Effect.fail
          )
      case "Die":
        return Effect.die(new ReplayedDefect({ name: result.defect.name, message: result.defect.message }))
    }
  }

  /** @internal */
  approval(frame: Frame, request: ApprovalRequest): Effect.Effect<ApprovalAnswer> {
    return Effect.suspend(() => {
      const key = nextKey(frame)
      const journaled = this.journal.get(key)
      if (journaled !== undefined) {
        if (journaled.kind !== "approval" || journaled.taskId !== request.taskId) {
          return this.nonDeterminism(key, journaled, `approval "${request.taskId}"`)
        }
        if (journaled.state === "completed" && journaled.result?._tag === "Success") {
          return Effect.succeed(journaled.result.value as ApprovalAnswer)
        }
        const given = this.answers.get(request.taskId)
        if (given !== undefined) return Effect.succeed(given)
        // Waiting when this run read its journal. Another process may have answered since: read the entry
        // again, and suspend (marking the execution waiting again) only if it still waits.
        return Effect.flatMap(
          Effect.orDieWith(this.storage.journal(this.executionId), (error) => new CommitFailed({ error })),
          (entries) => {
            const current = entries.find((entry) => entry.key === key)
            return current?.state === "completed" && current.result?._tag === "Success"
              ? Effect.succeed(current.result.value as ApprovalAnswer)
              : this.suspendAfter({ status: "waiting", owner: this.owner })
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
      return this.suspendAfter({
        events: [required],
        journal: {
          key,
          name: `approval:${request.taskId}`,
          kind: "approval",
          state: "waiting",
          taskId: request.taskId
        },
        status: "waiting",
        owner: this.owner
      })
    })
  }

  /**
   * Commits the waiting state and ends the run. The flag is set before the commit so that an `approve`
   * arriving right after the commit sees a run that is on its way out, not one still running.
   */
  private suspendAfter(commit: Commit): Effect.Effect<never> {
    return Effect.suspend(() => {
      this.suspended = true
      // Uninterruptible: a sibling branch suspending at the same moment must not roll this request back.
      return Effect.zipRight(Effect.uninterruptible(this.commit(commit)), Effect.interrupt)
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

const attempt = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options: StepOptions<A, E, R> | undefined
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
    result = Effect.retry(result, options.retry as Schedule.Schedule<unknown, E | StepTimeout, R>)
  }
  return result
}

const journalResult = <A, E>(exit: Exit.Exit<A, E>, options: StepOptions<A, E, any> | undefined): JournalResult => {
  if (Exit.isSuccess(exit)) {
    if (options?.success === undefined) return { _tag: "Success", value: exit.value }
    const encoded = Schema.encodeEither(options.success)(exit.value)
    return Either.isRight(encoded)
      ? { _tag: "Success", value: encoded.right }
      : { _tag: "Die", defect: errorInfo(encoded.left) }
  }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    if (options?.error === undefined) return { _tag: "Failure", error: failure.value }
    const encoded = Schema.encodeEither(options.error)(failure.value)
    return Either.isRight(encoded)
      ? { _tag: "Failure", error: encoded.right }
      : { _tag: "Die", defect: errorInfo(encoded.left) }
  }
  return { _tag: "Die", defect: errorInfo(Cause.squash(exit.cause)) }
}
