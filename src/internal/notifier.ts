import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { FollowOptions } from "../ExecutionStorage.js"
import type { StorageFailure } from "../WorkflowEngine.js"
import { onClose } from "./scopeFinalizer.js"

/**
 * A per-execution "something was committed" signal. Subscribers remember the
 * version they saw before reading storage and wait for it to move on, so a
 * commit between their read and their wait is never missed. It carries no
 * data: readers always go back to storage, which keeps memory bounded.
 */
export class Signal {
  version = 0
  /**
   * Moves whenever a waiter must look at the execution in storage again, not only for new events: its end
   * told here, its run here stopped, hints lost. Readers that took a short page for everything stored
   * until the version moved (the shared tail's) check it.
   */
  checks = 0
  refs = 0
  /** Set when this process stored the execution's terminal status. */
  finished = false
  private waiter: Deferred.Deferred<void> | undefined
  private finishWaiter: Deferred.Deferred<void> | undefined

  finish(): void {
    this.finished = true
    this.wake()
  }

  /** Wakes every waiter, those waiting for the end too: they look at storage again. */
  wake(): void {
    this.recheck()
    const finishWaiter = this.finishWaiter
    if (finishWaiter !== undefined) {
      this.finishWaiter = undefined
      Deferred.unsafeDone(finishWaiter, Exit.void)
    }
  }

  /** Waits until the execution finishes here, or at most `poll` (it may finish in another process). */
  waitFinished(poll: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.finished
        ? Effect.void
        : Effect.asVoid(
          Effect.timeoutOption(Deferred.await(this.finishWaiter ??= Deferred.unsafeMake<void>(FiberId.none)), poll)
        )
    )
  }

  /** Moves on, asking readers to look at the execution in storage again (`checks`). */
  recheck(): void {
    this.checks++
    this.notify()
  }

  notify(): void {
    this.version++
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      Deferred.unsafeDone(waiter, Exit.void)
    }
  }

  /** Waits until the version differs from `seen`, or at most `poll` (for commits made by other processes). */
  wait(seen: number, poll: Duration.Duration | undefined): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.version !== seen) return Effect.void
      const waiting = Deferred.await(this.waiter ??= Deferred.unsafeMake<void>(FiberId.none))
      return poll === undefined ? waiting : Effect.asVoid(Effect.timeoutOption(waiting, poll))
    })
  }
}

/**
 * Signals by execution id, kept only while someone (a run or a subscriber)
 * holds them.
 */
export class Signals {
  constructor(
    /** The storage's `follow`: where it is, other processes' commits that set no status are hinted only of executions followed. */
    private readonly follow?: (id: string, options?: FollowOptions) => Effect.Effect<void, never, Scope.Scope>
  ) {}

  private readonly byId = new Map<string, Signal>()
  /**
   * The executions whose run in this process stopped on a storage failure, with it: their followers here
   * would otherwise wait for events nobody is writing. Forgotten when a run of the execution is launched,
   * or when this process finishes it.
   */
  private readonly stoppedRuns = new Map<string, StorageFailure>()

  /** The run of `id` in this process stopped on `error`: its followers are woken to hear it. */
  stopped(id: string, error: StorageFailure): void {
    this.stoppedRuns.set(id, error)
    this.byId.get(id)?.recheck()
  }

  /** The storage failure that stopped the run of `id` in this process, if the last run stopped on one. */
  stoppedWith(id: string): StorageFailure | undefined {
    return this.stoppedRuns.get(id)
  }

  /** A run of `id` is launched: it is no longer stopped. */
  launched(id: string): void {
    this.stoppedRuns.delete(id)
  }

  acquire(id: string): Effect.Effect<Signal, never, Scope.Scope> {
    return Effect.uninterruptible(Effect.suspend(() => {
      let signal = this.byId.get(id)
      if (signal === undefined) {
        signal = new Signal()
        this.byId.set(id, signal)
      }
      signal.refs++
      const held = signal
      return Effect.as(
        onClose(Effect.sync(() => {
          if (--held.refs === 0 && this.byId.get(id) === held) this.byId.delete(id)
        })),
        held
      )
    }))
  }

  /**
   * Has every commit made to the execution elsewhere hinted here too (its steps, its end), while the scope
   * is open; settles once they are. Whoever follows reads storage again after this, before waiting.
   */
  hinted(id: string, options?: FollowOptions): Effect.Effect<void, never, Scope.Scope> {
    return this.follow === undefined ? Effect.void : this.follow(id, options)
  }

  /** Whether an execution's steps and end are hinted only where it is followed (`hinted`). */
  get hintsFollowed(): boolean {
    return this.follow !== undefined
  }

  /** `acquire` and `hinted`, for a follower of an execution that goes on. */
  watch(id: string): Effect.Effect<Signal, never, Scope.Scope> {
    return this.follow === undefined ? this.acquire(id) : Effect.zipLeft(this.acquire(id), this.follow(id))
  }

  notify(id: string): void {
    this.byId.get(id)?.notify()
  }

  /** Anything may have changed (hints from other processes were lost): every waiter looks again. */
  wakeAll(): void {
    for (const signal of this.byId.values()) signal.wake()
  }

  finish(id: string): void {
    // Finished here (cancelled, say): no run of it will stop any more.
    this.stoppedRuns.delete(id)
    this.byId.get(id)?.finish()
    this.onFinish?.()
  }

  /** Told of every execution that finishes, here or (hinted) elsewhere: room may have opened in its queue. */
  onFinish: (() => void) | undefined = undefined

  /** A signal was stored here for the execution (a child's end to its parent): followers and runs hear of it. */
  signalled(id: string): void {
    this.notify(id)
    this.onSignalled?.(id)
  }

  /** Told of every signal `signalled` here: the execution may be running, held by no one, now. */
  onSignalled: ((id: string) => void) | undefined = undefined

  /** Told of every wait with a wake-up time stored here: the timers may have to wake sooner. */
  onWaiting: ((wakeAt: number) => void) | undefined = undefined
}
