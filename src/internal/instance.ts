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
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { InboxSignal } from "../ExecutionStorage.js"
import type { Commit, CommitError, ExecutionStorageService, JournalEntry, Writer } from "../ExecutionStorage.js"
import type { Any as AnyWorkflow, ApprovalAnswer, ApprovalRequest, StepOptions } from "../Workflow.js"
import type { EventDraft, WorkflowEvent } from "../WorkflowEvent.js"
import { attempt } from "./attempt.js"
import type { Cursor, Frame } from "./cursor.js"
import { nextKey, peekKey } from "./cursor.js"
import type { Run } from "./engine/run.js"
import { suspending, unsuspended } from "./engine/run.js"
import { overdue, yieldToEventLoop } from "./eventLoop.js"
import * as JournalCodec from "./journalCodec.js"
import { stamp } from "./stamp.js"
import { stepEnd, stepStart } from "./stepEvents.js"
import type { RunTelemetry } from "./telemetry.js"
import type { Shown, Spawn } from "./waits.js"
import { describeEntry, received, success, unsupported } from "./waits.js"
import { CommitFailed, NonDeterminism, StepTimeout } from "./workflowErrors.js"
import type { ChildNotStarted } from "./workflowErrors.js"

/** A step's start may be held back and stored with its end. */
const hold = { hold: true } as const

/**
 * How a failed commit ends a run: a payload the storage cannot hold fails the execution where it was
 * produced; anything else stops the run and leaves the execution as stored.
 */
const commitDefect = (error: CommitError): unknown =>
  error._tag === "InvalidPayload" ? error : new CommitFailed({ error })

export class Instance {
  /** Commits made, counted to look at the time only every so often. */
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
    private readonly confirmLease: () => Effect.Effect<void> | undefined,
    /** Starts a child execution with this id (or finds the one started with it): the engine's `start`. */
    private readonly spawn: Spawn,
    private readonly telemetry: RunTelemetry
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
    // Every so often during a long burst, let timers (lease renewals) run: a commit stored synchronously
    // never leaves the fiber, and one a group commit stores on a microtask never leaves the microtask queue.
    const breathe = (++this.commits & 63) === 0 && overdue()
    if (Exit.isExit(stored) && Exit.isSuccess(stored)) {
      return breathe ? Effect.zipRight(yieldToEventLoop, Effect.suspend(next)) : next()
    }
    return Effect.matchEffect(stored, {
      onFailure: (error) => Effect.die(commitDefect(error)),
      onSuccess: breathe ? () => Effect.zipRight(yieldToEventLoop, Effect.suspend(next)) : next
    })
  }

  event(draft: EventDraft): WorkflowEvent {
    return stamp(this.executionId, draft, this.clock, this.telemetry.ids)
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
    const span = this.telemetry.step(name, key, journaled === undefined ? 1 : 2)
    const body = attempt(name, span === undefined ? effect : span.tried(effect), options, this.confirmLease)
    const run = (): Effect.Effect<A, E, R> => {
      // The start commit may have taken long (the process stalled while it waited for the database): the
      // lease is checked again right before the body, with nothing asynchronous in between.
      const stale = this.confirmLease()
      if (stale !== undefined) return Effect.zipRight(stale, Effect.suspend(run))
      // Entered right after the start commit: nested steps and events belong to this step until it ends.
      cursor.frame = inner
      const ran = Effect.matchCauseEffect(body, {
        onFailure: (cause) => {
          cursor.frame = frame
          return this.completeStep(key, name, started, Exit.failCause(cause), options as StepOptions<A, any, R>)
        },
        onSuccess: (value) => {
          cursor.frame = frame
          return this.completeStep(key, name, started, Exit.succeed(value), options as StepOptions<A, any, R>)
        }
      })
      return span === undefined ? ran : span.around(ran)
    }
    if (journaled !== undefined) return Effect.suspend(run)
    const start = stepStart(this.executionId, name, started, options?.input, this.telemetry.ids)
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
    this.telemetry.stepEnded(timestamp - started)
    const end = stepEnd(this.executionId, name, started, timestamp, result, this.telemetry.ids)
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
      const again = Effect.flatMap(
        Effect.orDieWith(this.storage.journal(this.executionId), (error) => new CommitFailed({ error })),
        (entries): Effect.Effect<ApprovalAnswer> => {
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
          return this.suspend({
            status: "waiting",
            waitingFor: { key, taskId: request.taskId },
            wait: { for: `approval:${request.taskId}` }
          })
        }
      )
      return this.telemetry.wait("approval", request.taskId, again)
    }
    const required = this.event({
      type: "human_approval_required",
      taskId: request.taskId,
      dataForApproval: request.dataForApproval,
      ...(request.message !== undefined ? { message: request.message } : {}),
      ...(request.choices !== undefined ? { choices: request.choices } : {})
    })
    return this.telemetry.wait(
      "approval",
      request.taskId,
      this.suspend({
        events: [required],
        journal: {
          key,
          name: `approval:${request.taskId}`,
          kind: "approval",
          state: "waiting",
          taskId: request.taskId
        },
        status: "waiting",
        wait: { for: `approval:${request.taskId}` }
      })
    )
  }

  /**
   * A durable sleep at the next position until `wakeAt` (computed from the engine's now the first time,
   * journaled after): the execution waits with no process holding it, and any engine wakes it then.
   */
  sleep(frame: Frame, wakeAt: (now: number) => number): Effect.Effect<void> {
    if (this.storage.wakeDue === undefined) return Effect.die(unsupported("wakeDue", "durable sleeps"))
    const now = this.clock.unsafeCurrentTimeMillis()
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      if (journaled.kind !== "sleep") return this.nonDeterminism(key, journaled, "a sleep")
      if (journaled.state === "completed") return Effect.void
      return this.sleepUntil(key, journaled.wakeAt ?? now, [])
    }
    const until = wakeAt(now)
    const started = this.event({ type: "wait_started", wait: "sleep", wakeAt: until })
    return this.sleepUntil(key, until, [started])
  }

  private sleepUntil(key: string, wakeAt: number, events: Array<WorkflowEvent>): Effect.Effect<void> {
    const entry = { key, name: "sleep", kind: "sleep", wakeAt } as const
    if (this.clock.unsafeCurrentTimeMillis() >= wakeAt) {
      // Held back, as a step's end is: stored with the run's next commit.
      const ended = this.event({ type: "wait_ended", wait: "sleep" })
      return this.telemetry.wait(
        "sleep",
        key,
        this.commitThen(
          { events: [...events, ended], journal: { ...entry, state: "completed" } },
          () => Effect.void,
          hold
        )
      )
    }
    return this.telemetry.wait(
      "sleep",
      key,
      this.suspend({
        events,
        journal: { ...entry, state: "waiting" },
        status: "waiting",
        wait: { for: "sleep", wakeAt }
      })
    )
  }

  /**
   * Receives the first signal named `name` in the inbox, at the next position, waiting for one (with no
   * process holding the execution) until `timeoutAt` if given: `Option.none()` when none came in time.
   * Answers the payload as stored; `accept` tells whether the body can take it (a payload it cannot decode
   * is taken out of the inbox and skipped). `shown` says what it waits for in its events: a signal (by
   * name) or a child (by id, whose end is the signal `child:<id>`).
   */
  signal(
    frame: Frame,
    name: string,
    accept: (payload: unknown) => string | undefined,
    timeoutAt: ((now: number) => number) | undefined,
    shown: Shown = { wait: "signal", name }
  ): Effect.Effect<Option.Option<unknown>> {
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      if (journaled.kind !== "signal" || journaled.name !== name) {
        return this.nonDeterminism(key, journaled, `signal "${name}"`)
      }
      if (journaled.state === "completed" && journaled.result?._tag === "Success") {
        return Effect.succeed(received(journaled.result.value))
      }
      return this.telemetry.wait(shown.wait, shown.name, this.receive(key, name, shown, accept, journaled.wakeAt, []))
    }
    const wakeAt = timeoutAt?.(this.clock.unsafeCurrentTimeMillis())
    const started = this.event({ type: "wait_started", ...shown, ...(wakeAt !== undefined ? { wakeAt } : {}) })
    return this.telemetry.wait(shown.wait, shown.name, this.receive(key, name, shown, accept, wakeAt, [started]))
  }

  /**
   * A patch check at the next position: journaled there the first time (true), found there on replay
   * (true); another entry there means the execution got past this point before the patch: false, and the
   * position stays that entry's.
   */
  patched(frame: Frame, id: string): Effect.Effect<boolean> {
    const key = peekKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined && journaled.kind !== "patch") return Effect.succeed(false)
    frame.next++
    if (journaled === undefined) {
      return this.commitThen(
        { journal: { key, name: id, kind: "patch", state: "completed" } },
        () => Effect.succeed(true),
        hold
      )
    }
    return journaled.name === id ? Effect.succeed(true) : this.nonDeterminism(key, journaled, `patch "${id}"`)
  }

  /**
   * Starts a child at the next position: its id is journaled first, and started on every replay too (a start
   * with an existing id finds it): a parent that stopped in between starts it once, never a second one.
   */
  startChild(
    frame: Frame,
    child: AnyWorkflow | string,
    input: unknown,
    id?: string
  ): Effect.Effect<string, ChildNotStarted> {
    const workflow = typeof child === "string" ? child : child.name
    const spawn = (childId: string) => this.spawn(child, input, childId)
    const key = nextKey(frame)
    const journaled = this.journal.get(key)
    if (journaled !== undefined) {
      const started = journaled.result?._tag === "Success" ? journaled.result.value : undefined
      if (journaled.kind !== "child" || journaled.name !== `child:${workflow}` || typeof started !== "string") {
        return this.nonDeterminism(key, journaled, `a child of workflow "${workflow}"`)
      }
      return Effect.as(spawn(started), started)
    }
    const childId = id ?? crypto.randomUUID()
    return this.commitThen(
      {
        events: [this.event({ type: "child_started", executionId: childId, workflow })],
        journal: { key, name: `child:${workflow}`, kind: "child", state: "completed", result: success(childId) }
      },
      () => Effect.as(spawn(childId), childId)
    )
  }

  private receive(
    key: string,
    name: string,
    shown: Shown,
    accept: (payload: unknown) => string | undefined,
    wakeAt: number | undefined,
    events: Array<WorkflowEvent>,
    /** The wait goes on after a signal it skipped: its log says so again if it suspends. */
    again = false
  ): Effect.Effect<Option.Option<unknown>> {
    const inbox = this.storage.inbox
    if (inbox === undefined) return Effect.die(unsupported("inbox", "signals"))
    const entry = { key, name, kind: "signal", ...(wakeAt !== undefined ? { wakeAt } : {}) } as const
    const retry = () => this.receive(key, name, shown, accept, wakeAt, events, again)
    return Effect.flatMap(
      Effect.orDieWith(inbox(this.executionId, name), (error) => new CommitFailed({ error })),
      (signals: ReadonlyArray<InboxSignal>) => {
        const [first] = signals
        if (first !== undefined) {
          const refused = accept(first.payload)
          if (refused !== undefined) {
            // Out of the inbox, and said so in the log; the wait goes on with the next one.
            const message = `Signal "${name}" (seq ${first.seq}) skipped: ${refused}`
            const skipped = this.event({ type: "log", level: "warn", message })
            const next = () => this.receive(key, name, shown, accept, wakeAt, [], true)
            return this.commitThen({ events: [...events, skipped], consume: first.seq }, next)
          }
          const ended = this.event({ type: "wait_ended", ...shown })
          return this.commitThen(
            {
              events: [...events, ended],
              journal: { ...entry, state: "completed", result: { _tag: "Success", value: { payload: first.payload } } },
              consume: first.seq
            },
            () => Effect.succeed(Option.some(first.payload))
          )
        }
        if (wakeAt !== undefined && this.clock.unsafeCurrentTimeMillis() >= wakeAt) {
          const ended = this.event({ type: "wait_ended", ...shown, timedOut: true })
          return this.commitThen(
            {
              events: [...events, ended],
              journal: { ...entry, state: "completed", result: { _tag: "Success", value: {} } }
            },
            () => Effect.succeed(Option.none())
          )
        }
        // Waiting, unless a signal of its name lands first: then the storage refuses, and it is received. A
        // wait that goes on after a bad signal was skipped is said again: it waits from this commit. (A replay
        // of a wait its log already shows says nothing.)
        const waits = again
          ? [...events, this.event({ type: "wait_started", ...shown, ...(wakeAt !== undefined ? { wakeAt } : {}) })]
          : events
        return this.suspend(
          {
            events: waits,
            journal: { ...entry, state: "waiting" },
            status: "waiting",
            wait: { for: `signal:${name}`, unlessSignal: name, ...(wakeAt !== undefined ? { wakeAt } : {}) }
          },
          retry
        )
      }
    )
  }

  /**
   * Commits the waiting state and ends the run. A wait refused because its signal came meanwhile goes on
   * with `unlessSignal` instead (the body receives it), as long as nothing else stopped the run.
   */
  private suspend<A>(commit: Commit, unlessSignal?: () => Effect.Effect<A>): Effect.Effect<A> {
    return Effect.suspend(() => {
      suspending(this.run)
      // Uninterruptible: a sibling branch suspending at the same moment must not roll this request back.
      const stored = Effect.suspend(() => this.writer.commit(commit)).pipe(
        Effect.as(false),
        Effect.catchTags({
          ApprovalNotPending: () => Effect.succeed(false),
          SignalPending: () => Effect.succeed(true)
        }),
        Effect.catchAll((error) => Effect.die(commitDefect(error)))
      )
      return Effect.flatMap(
        Effect.uninterruptible(stored),
        (pending) => pending && unlessSignal !== undefined && unsuspended(this.run) ? unlessSignal() : Effect.interrupt
      )
    })
  }

  private nonDeterminism(key: string, journaled: JournalEntry, found: string): Effect.Effect<never> {
    const expected = describeEntry(journaled)
    return Effect.die(new NonDeterminism({ executionId: this.executionId, position: key, expected, found }))
  }
}

/** A defect by which the run stops (a commit refused or failed, a lease not confirmed), not the step's own. */
const stopsTheRun = (cause: Cause.Cause<unknown>): boolean =>
  Option.isSome(
    Cause.find(cause, (reason) =>
      reason._tag === "Die" && reason.defect instanceof CommitFailed ? Option.some(reason.defect) : Option.none())
  )
