/**
 * The runs of one engine: launching a run of an execution (claim, load,
 * interpret the body, store the outcome), stopping it (cancel, lost lease,
 * shutdown) and handing it answers that arrive while it goes on.
 */
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberMap from "effect/FiberMap"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type {
  Commit,
  ExecutionRecord,
  ExecutionStorageService,
  InvalidPayload,
  JournalEntry,
  NewExecution,
  Writer
} from "../../ExecutionStorage.js"
import type { ApprovalAnswer } from "../../Workflow.js"
import type { StorageFailure } from "../../WorkflowEngine.js"
import type { ErrorInfo } from "../../WorkflowEvent.js"
import { currentCursor, rootCursor } from "../cursor.js"
import { errorInfo, issuesOf } from "../errorInfo.js"
import { ExecutionContext } from "../executionContext.js"
import { currentFlow } from "../flowState.js"
import { Instance } from "../instance.js"
import * as Metrics from "../metrics.js"
import type { Signals } from "../notifier.js"
import { onClose } from "../scopeFinalizer.js"
import { stamp } from "../stamp.js"
import { ExecutionNotOwned, isTerminal, StorageError } from "../storage/service.js"
import * as Telemetry from "../telemetry.js"
import type { TraceIds } from "../telemetry.js"
import type { Spawn } from "../waits.js"
import { CHILD_PREFIX } from "../waits.js"
import { CommitFailed, InvalidInput } from "../workflowErrors.js"
import { WorkflowCancelled } from "./errors.js"
import * as Leases from "./leases.js"
import * as Outcome from "./outcome.js"
import type { Definition } from "./registry.js"
import * as Run from "./run.js"
import { runsHere } from "./starting.js"

const hold = { hold: true } as const
const noEntries: ReadonlyArray<JournalEntry> = []

/** The commit that ends an execution as cancelled (and tells its parent, if it has one). */
export const cancelledCommit = (
  id: string,
  clock: Clock.Clock,
  parent: string | undefined,
  trace?: TraceIds
): Commit => {
  const error = errorInfo(new WorkflowCancelled({ executionId: id }))
  return toParent(
    { events: [stamp(id, { type: "workflow_error", error }, clock, trace)], status: "cancelled", error },
    id,
    parent,
    clock
  )
}

/**
 * An end with the signal `child:<id>` to the parent, if there is one, in the same commit: the parent's
 * `Workflow.child` receives how it ended, however long after, in whichever process.
 */
export const toParent = (commit: Commit, id: string, parent: string | undefined, clock: Clock.Clock): Commit => {
  if (parent === undefined) return commit
  const name = `${CHILD_PREFIX}${id}`
  const payload = commit.status === "completed"
    ? { status: "completed", output: commit.output }
    : { status: commit.status, error: commit.error }
  const event = stamp(parent, { type: "signal_received", name, payload }, clock)
  return { ...commit, signalParent: { parent, name, payload, event } }
}

/** Wakes the execution's subscribers after a commit; a terminal one also wakes those waiting for its result. */
export const stored = (signals: Signals, id: string) => (commit: Commit): void => {
  const parent = commit.signalParent?.parent
  if (parent !== undefined) signals.signalled(parent)
  if (commit.status !== undefined && isTerminal(commit.status)) return signals.finish(id)
  signals.notify(id)
  const wakeAt = commit.wait?.wakeAt
  if (wakeAt !== undefined) signals.onWaiting?.(wakeAt)
}

/** A commit on behalf of anyone (cancel, approve, signal): no owner, so it cannot be refused as not owned. */
export const commitAsEngine = (storage: ExecutionStorageService, signals: Signals) => (id: string, commit: Commit) =>
  storage.commit(id, commit).pipe(
    Effect.tap(() => stored(signals, id)(commit)),
    // Neither can it be refused as waiting while a signal is pending: it makes nothing wait.
    Effect.catchTags({ ExecutionNotOwned: Effect.die, SignalPending: Effect.die })
  )

/** What a run does when one of its commits is stored: tells the engine, and keeps the end it stored. */
const storedBy = (signals: Signals, id: string, run: Run.Run, workflow: string) => {
  const tell = stored(signals, id)
  return (commit: Commit): void => {
    // Stored as finished: the lease went with it; nothing is left to renew or release.
    if (commit.status !== undefined && isTerminal(commit.status)) {
      run.leaseConfirmedAt = undefined
      run.end = { workflow, commit }
      Metrics.ended(workflow, commit.status)
    }
    tell(commit)
  }
}

/**
 * Stores what an outcome says, through the run's writer. When storage fails (the outcome is `Stop`, or
 * storing it failed), `stopped` tells the run's followers.
 */
const storeOutcome = (
  clock: Clock.Clock,
  leaseLost: (id: string, run: Run.Run) => Effect.Effect<void>,
  stopped: (id: string, run: Run.Run, error: StorageFailure) => Effect.Effect<void>
) => {
  const store = (id: string, run: Run.Run, writer: Writer, outcome: Outcome.Outcome): Effect.Effect<void> => {
    const failed = (error: ErrorInfo): Commit =>
      toParent(
        { events: [stamp(id, { type: "workflow_error", error }, clock, run.trace)], status: "failed", error },
        id,
        run.parent,
        clock
      )
    let commit: Commit
    switch (outcome._tag) {
      case "Leave":
        return Effect.void
      case "Stop":
        return stopped(id, run, outcome.error)
      case "Abandon":
        return leaseLost(id, run)
      case "Cancel":
        commit = cancelledCommit(id, clock, run.parent, run.trace)
        break
      case "Fail":
        commit = failed(outcome.error)
        break
      case "Complete":
        commit = toParent(
          {
            events: [stamp(id, { type: "final_output", data: outcome.output }, clock, run.trace)],
            status: "completed",
            output: outcome.output
          },
          id,
          run.parent,
          clock
        )
    }
    return Effect.suspend(() => writer.commit(commit)).pipe(
      // An output (or error) the storage cannot hold fails the execution with that reason instead.
      Effect.catchTag("InvalidPayload", (invalid) => Effect.suspend(() => writer.commit(failed(errorInfo(invalid))))),
      Effect.catchAll((error) =>
        error._tag === "ExecutionFinished"
          ? Effect.void
          : error._tag === "ExecutionNotOwned"
          ? store(id, run, writer, Outcome.Outcome.Abandon())
          : error._tag === "StorageError"
          ? stopped(id, run, error)
          : Effect.logError(`Execution ${id} could not store its outcome: ${error.message}`)
      )
    )
  }
  return store
}

/** The run's body: its input decoded by the workflow's schema (every failing path named), then the workflow. */
const bodyOf = (workflow: Definition["workflow"], input: unknown): Effect.Effect<unknown, unknown> =>
  Effect.flatMap(
    Effect.mapError(
      Schema.decodeUnknown(workflow.input, { errors: "all" })(input),
      (error) => new InvalidInput({ workflow: workflow.name, issues: issuesOf(error) })
    ),
    (decoded) => workflow.run(decoded) as Effect.Effect<unknown, unknown>
  )

/**
 * What the run's writer tells once the write creating its execution has ended: the run holds its lease from
 * then on (as of when the start asked for it: the database set it later), and the start hears how it went.
 */
const createdBy = (run: Run.Run, { claimedAt, create }: Fresh) => (failure: unknown): void => {
  run.creating = false
  if (failure === undefined) run.leaseConfirmedAt = claimedAt
  Deferred.unsafeDone(
    create!.created,
    failure === undefined
      ? Exit.void
      : Predicate.isTagged(failure, "StorageError") || Predicate.isTagged(failure, "InvalidPayload")
      ? Exit.fail(failure as StorageError | InvalidPayload)
      : Exit.die(failure)
  )
}

/**
 * A run that was to create its execution did not get to write (the engine is closing): its start fails,
 * nothing started. A start already told how the write went is not told again.
 */
const notCreated = (fresh: Fresh | undefined): Effect.Effect<void> =>
  fresh?.create === undefined ? Effect.void : Effect.asVoid(
    // Made only if someone hears it: every run ends here, and an error costs tens of µs (its stack).
    Deferred.failSync(fresh.create.created, () =>
      new StorageError({
        operation: "create",
        reason: `the engine stopped before execution "${fresh.record.id}" was stored: it was not started`
      }))
  )

/**
 * A run's interpreter of its execution's journal, with the run's telemetry (its span open until the scope
 * closes) and its writer, which tells the engine and the telemetry of every write.
 */
const interpret = (
  { owner, signals, spawn, storage }: RunsOptions,
  clock: Clock.Clock,
  record: ExecutionRecord,
  run: Run.Run,
  journal: ReadonlyMap<string, JournalEntry>,
  confirmLease: (id: string, run: Run.Run) => () => Effect.Effect<void> | undefined,
  fresh: Fresh | undefined
) =>
  Effect.gen(function*() {
    const { id, workflow } = record
    const telemetry = yield* Telemetry.forRun(storage, record, clock)
    run.trace = telemetry.ids
    const onStored = storedBy(signals, id, run, workflow)
    const writer = yield* storage.writer(id, {
      owner,
      onStored,
      onWrite: telemetry.onWrite,
      ...(fresh?.create !== undefined ? { create: fresh.create.execution, onCreated: createdBy(run, fresh) } : {})
    })
    const instance = new Instance(
      id,
      workflow,
      writer,
      storage,
      journal,
      run,
      clock,
      confirmLease(id, run),
      spawn,
      telemetry
    )
    return { instance, telemetry, writer }
  })

export interface Runs {
  /**
   * Runs the execution in this process unless it already runs (or is starting) here. A run that is
   * suspending on a wait, or stopped by storage, is awaited first. The run is recorded before anything is
   * awaited, so concurrent launches, cancels and answers all see it. Answers the run launched, if one was.
   */
  readonly launch: (id: string, definition: Definition, fresh?: Fresh) => Effect.Effect<Run.Run | undefined>
  /** What `create` is given to create an execution claimed for this engine's runs (see `Fresh`). */
  readonly claim: { readonly owner: string; readonly leaseMs: number }
  readonly has: (id: string) => boolean
  /**
   * Waits for the run of the execution going on here to end, with the end it stored, if it stored one;
   * undefined when no run of it goes on here.
   */
  readonly ended: (id: string) => Effect.Effect<Run.End | undefined> | undefined
  /**
   * Cancel, this process's part: interrupts a run going on here (it stores `cancelled` itself), or waits
   * for one on its way out.
   */
  readonly interrupt: (id: string) => Effect.Effect<void>
  /** An answer stored for the execution: a run going on here may have read its journal before it. */
  readonly handOff: (id: string, taskId: string, answer: ApprovalAnswer) => void
  /** The runs holding a lease, for renewal. */
  readonly leased: () => ReadonlyArray<readonly [string, Run.Run]>
  /** Stops a run whose lease this engine can no longer vouch for: another engine may run it now. */
  readonly abandon: (id: string, run: Run.Run) => Effect.Effect<void>
}

/**
 * An execution this engine has just claimed for its runs (created, taken from a queue, woken): its run
 * starts from the record, with nothing to claim, and reads its journal only if its body ran before.
 */
export interface Fresh {
  readonly record: ExecutionRecord
  /** When the claim was asked for, on this engine's clock. */
  readonly claimedAt: number
  /** Its body ran before (it was woken from a wait): its journal is read. */
  readonly started?: boolean
  /**
   * Not stored yet (`record` is what it will be): the run's writer creates it, claimed, with its first
   * write (`WriterOptions.create`), and completes `created` once that write has ended. The run holds no
   * lease to renew or check until then.
   */
  readonly create?: {
    readonly execution: NewExecution
    readonly created: Deferred.Deferred<void, StorageError | InvalidPayload>
  }
}

export interface RunsOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  readonly owner: string
  /** How long a claim lasts, in ms. */
  readonly lease: number
  /** Starts a child execution from a body (the engine's `start`). */
  readonly spawn: Spawn
}

/** A run's claim of its execution, and the checks that it still holds it. */
const leasing = ({ lease, owner, storage }: RunsOptions, clock: Clock.Clock) => {
  /**
   * Undefined while the run's lease was confirmed within two thirds of its length (the renewals keep it
   * so); else renews it now, and dies as not owned when the storage did not extend it. The storage keeps
   * the lease on its own clock; this only measures time elapsed here, from before the renewal was asked.
   */
  const confirmLease = (id: string, run: Run.Run) => (): Effect.Effect<void> | undefined => {
    // Not stored yet: the write that creates it sets the lease.
    if (run.creating) return undefined
    const now = clock.unsafeCurrentTimeMillis()
    if (run.leaseConfirmedAt !== undefined && now - run.leaseConfirmedAt <= (lease * 2) / 3) return undefined
    return Effect.flatMap(Effect.either(Leases.renew(storage, owner, [id], lease)), (renewed) => {
      if (renewed._tag === "Right" && renewed.right.includes(id)) {
        run.leaseConfirmedAt = now
        return Effect.void
      }
      const error = renewed._tag === "Left" ? renewed.left : new ExecutionNotOwned({ executionId: id, owner })
      return Effect.die(new CommitFailed({ error }))
    })
  }

  /** Claims the execution and reads it; undefined when another process runs it, or it has finished. */
  const load = (id: string, run: Run.Run) =>
    Effect.gen(function*() {
      const now = clock.unsafeCurrentTimeMillis()
      if (!(yield* storage.claim(id, owner, lease))) return undefined
      run.leaseConfirmedAt = now
      return { record: yield* storage.get(id), journal: yield* storage.journal(id) }
    })
  return { confirmLease, load }
}

/** How a run ends without storing an outcome. */
const endings = (signals: Signals) => ({
  /** The run stores nothing more: another engine may run the execution now. */
  leaseLost: (id: string, run: Run.Run) =>
    Effect.suspend(() => {
      Run.abandoned(run)
      return Effect.logWarning(
        `Execution ${id} is no longer held here (its lease was taken over, or it ended elsewhere): its run stops`
      )
    }),
  /**
   * The run stops on a storage failure: the execution stays as stored; its followers here are told. It is
   * `Stopped` before they hear of it: a `resume` they make at once waits for its fiber to end and runs the
   * execution again, instead of taking it for a run that goes on.
   */
  stopped: (id: string, run: Run.Run, error: StorageFailure) =>
    Effect.suspend(() => {
      Run.stopped(run)
      signals.stopped(id, error)
      return Effect.logError(`Execution ${id} stopped: ${error.message}`)
    })
})

export const make = (options: RunsOptions): Effect.Effect<Runs, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { lease, owner, signals, storage } = options
    const clock = yield* Effect.clock
    const fibers = yield* FiberMap.make<string>()
    const runs = new Map<string, Run.Run>()
    let closing = false
    // Added after the FiberMap, so it runs first when the engine closes: every run knows why it stops.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        for (const run of runs.values()) Run.shuttingDown(run)
        return FiberMap.clear(fibers)
      })
    )

    const { leaseLost, stopped } = endings(signals)
    const store = storeOutcome(clock, leaseLost, stopped)
    const { confirmLease, load } = leasing(options, clock)

    const execute = (id: string, definition: Definition, run: Run.Run, fresh: Fresh | undefined) =>
      Effect.gen(function*() {
        // The run goes on after whoever launched it (`start` returns its handle before the body begins),
        // unless that one waits for the run to create the execution.
        if (fresh?.create === undefined) yield* Effect.yieldNow()
        // Cancelled (or the engine closed) between launch and start: whoever stopped it stores the outcome.
        if (!Run.isLive(run)) return
        // The lease goes with the execution's end when the run stores it; else the run gives it up.
        yield* onClose(Effect.suspend(() =>
          run.state._tag === "Abandoned" || run.leaseConfirmedAt === undefined
            ? Effect.void
            : Effect.ignore(storage.release(id, owner))
        ))
        if (fresh?.create !== undefined) run.creating = true
        else if (fresh !== undefined) run.leaseConfirmedAt = fresh.claimedAt
        const loaded = fresh === undefined
          ? yield* load(id, run)
          : { record: fresh.record, journal: fresh.started === true ? yield* storage.journal(id) : noEntries }
        if (loaded === undefined || isTerminal(loaded.record.status)) return
        const record = loaded.record
        // Of another version of the workflow than the one here: left (its lease given up) for an engine with it.
        if (!runsHere(definition, record)) {
          return yield* Effect.logWarning(
            `Execution ${id} is of version ${record.version} of "${record.workflow}", not the one here: left to run elsewhere`
          )
        }
        if (record.awaitedByParent === true) run.parent = record.parent
        const journal = new Map(loaded.journal.map((entry) => [entry.key, entry] as const))
        const workflow = definition.workflow
        const { instance, telemetry, writer } = yield* interpret(
          options,
          clock,
          record,
          run,
          journal,
          confirmLease,
          fresh
        )
        if (!Run.loaded(run)) return
        yield* telemetry.active
        // Held back: stored with the run's first commit.
        if (record.status !== "running") yield* Effect.suspend(() => writer.commit({ status: "running" }, hold))
        const ran = { executionId: id, workflow: workflow.name, output: workflow.output, error: workflow.error }
        // A run starts from a clean slate, whatever the fiber that launched it was doing. Set for the rest of
        // the run's own fiber (nothing after the body reads them), not `locally`: that costs a run tens of
        // Effect operations to restore what nobody reads again.
        yield* FiberRef.set(currentCursor, rootCursor(instance))
        yield* FiberRef.set(currentFlow, undefined)
        yield* bodyOf(workflow, record.input).pipe(
          // One context, given once: each `provide` is a region of its own that a run pays to enter and leave.
          Effect.provide(
            Context.add(definition.context, ExecutionContext, { executionId: id, workflow: workflow.name })
          ),
          Effect.onExit((exit) => {
            const outcome = Outcome.decide(run.state, exit, ran)
            telemetry.outcome(outcome._tag)
            return store(id, run, writer, outcome)
          }),
          (effect) => telemetry.within(effect),
          Effect.exit
        )
      }).pipe(
        Effect.scoped,
        Effect.catchAll((error) =>
          error._tag === "StorageError"
            ? stopped(id, run, error)
            : Effect.logError(`Execution ${id} could not run: ${error.message}`)
        ),
        Effect.catchAllDefect((defect) => Effect.logError(`Execution ${id} could not run`, defect)),
        Effect.ensuring(Effect.suspend(() => {
          if (runs.get(id) === run) runs.delete(id)
          // Ended before its writer could create the execution (the engine closed): the start hears so.
          return notCreated(fresh)
        }))
      )

    const launch = (id: string, definition: Definition, fresh?: Fresh): Effect.Effect<Run.Run | undefined> =>
      Effect.suspend(() => {
        const current = runs.get(id)
        if (closing || (current !== undefined && !Run.leaving(current))) return Effect.as(notCreated(fresh), undefined)
        const run = Run.make()
        runs.set(id, run)
        signals.launched(id)
        const previous = Option.getOrUndefined(FiberMap.unsafeGet(fibers, id))
        const launched = FiberMap.run(fibers, id, execute(id, definition, run, fresh), { onlyIfMissing: true })
        return Effect.as(previous === undefined ? launched : Effect.zipRight(Fiber.await(previous), launched), run)
      })

    const interrupt = (id: string) =>
      Effect.suspend(() => {
        const run = runs.get(id)
        // Going on here: interrupt it; its finalizers run and it stores the cancellation.
        if (run !== undefined && Run.cancelling(run)) return FiberMap.remove(fibers, id)
        const previous = FiberMap.unsafeGet(fibers, id)
        return Option.isSome(previous) ? Effect.asVoid(Fiber.await(previous.value)) : Effect.void
      })

    return {
      launch,
      claim: { owner, leaseMs: lease },
      has: (id) => runs.has(id),
      ended: (id) => {
        const fiber = FiberMap.unsafeGet(fibers, id)
        const run = runs.get(id)
        return Option.isSome(fiber) ? Effect.map(Fiber.await(fiber.value), () => run?.end) : undefined
      },
      interrupt,
      handOff: (id, taskId, answer) => {
        const run = runs.get(id)
        if (run !== undefined && Run.isLive(run)) run.answers.set(taskId, answer)
      },
      leased: () => [...runs].filter(([, run]) => run.leaseConfirmedAt !== undefined),
      // Only the run it was asked about: a renewal answered late must not stop a newer run of the execution.
      abandon: (id, run) =>
        runs.get(id) === run ? Effect.zipRight(leaseLost(id, run), FiberMap.remove(fibers, id)) : Effect.void
    } satisfies Runs
  })
