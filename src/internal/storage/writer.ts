/**
 * The run-scoped writer: the one way a run commits. Each storage describes
 * how it writes (a `Driver`); the writer adds the run's owner, tells the
 * engine of every stored commit, and holds a step's start back so that a
 * fast step is one write, not two.
 */
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import type { Commit, CommitError, Writer, WriterOptions } from "../../ExecutionStorage.js"
import { isCommitError } from "./service.js"

/**
 * How a storage writes one commit of a run (`owner` guards it). `P` is a
 * commit prepared for writing (encoded, for a storage that encodes): a
 * held-back start is prepared when it is handed over, so it is stored as it
 * was then, and a start that cannot be stored fails before its step runs.
 */
export interface Driver<P> {
  /** Prepares a commit; throws `InvalidPayload` when it cannot be stored. */
  readonly prepare: (id: string, commit: Commit) => P
  /** One commit of a step's start and its end. */
  readonly merge: (start: P, end: P) => P
  /** Writes at once, throwing what `commit` fails with: for storages that can (no Effect per commit). */
  readonly writeSync?: (id: string, prepared: P, owner: string) => void
  /** Writes, asynchronously. */
  readonly write: (id: string, prepared: P, owner: string) => Effect.Effect<unknown, CommitError>
  /** Writes from outside any fiber (a held-back start), telling `done` of the failure, if any. */
  readonly writeLater?: (id: string, prepared: P, owner: string, done: (failure: unknown) => void) => void
  /** Whether a step's start is held back until its end or a microtask (needs `writeSync` or `writeLater`). */
  readonly holdStarts: boolean
}

const failWith = (error: unknown): Exit.Exit<never, CommitError> =>
  isCommitError(error) ? Exit.fail(error) : Exit.die(error)

interface Held<P> {
  readonly commit: Commit
  readonly prepared: P
}

class RunWriter<P> implements Writer {
  private held: Held<P> | undefined = undefined
  /** Why a held-back start could not be written on its own: the run's next commit fails with it. */
  private heldFailure: unknown = undefined
  private scheduled = false

  constructor(
    private readonly id: string,
    private readonly owner: string,
    private readonly onStored: ((commit: Commit) => void) | undefined,
    private readonly driver: Driver<P>
  ) {}

  commit(commit: Commit, options?: { readonly hold?: boolean }): Effect.Effect<void, CommitError> {
    if (this.heldFailure !== undefined) {
      const failure = this.heldFailure
      this.heldFailure = undefined
      return failWith(failure)
    }
    const held = this.held
    const ends = held !== undefined && commit.journal !== undefined && held.commit.journal?.key === commit.journal.key
    // Another commit of the run: the held-back start is written first, then this one (prepared once, then).
    if (held !== undefined && !ends) return this.afterHeld(Effect.suspend(() => this.commit(commit, options)))
    let prepared: P
    try {
      prepared = this.driver.prepare(this.id, commit)
    } catch (error) {
      // It cannot be stored; what was held back before it happened, and is stored.
      return this.afterHeld(failWith(error))
    }
    if (held !== undefined) {
      // The end of the held-back start: the two are one commit.
      this.held = undefined
      prepared = this.driver.merge(held.prepared, prepared)
    }
    if (options?.hold === true && this.driver.holdStarts) {
      this.held = { commit, prepared }
      this.schedule()
      return Exit.void
    }
    return this.writeNow(commit, prepared) ?? Exit.void
  }

  /** Writes what is held back first, so the log keeps its order; `next` only if that was stored. */
  private afterHeld(next: Effect.Effect<void, CommitError>): Effect.Effect<void, CommitError> {
    const held = this.held
    if (held === undefined) return next
    this.held = undefined
    const before = this.driver.writeSync === undefined && this.driver.writeLater !== undefined
      ? this.queueNow(held)
      : this.writeNow(held.commit, held.prepared)
    return before === undefined ? next : Effect.zipRight(before, next)
  }

  /**
   * Queues a held commit at once (it is out of the held slot now, so it must be written even if nobody
   * waits for it), and returns an Effect that waits for it.
   */
  private queueNow(held: Held<P>): Effect.Effect<void, CommitError> {
    let done: Exit.Exit<void, CommitError> | undefined
    let waiting: ((exit: Exit.Exit<void, CommitError>) => void) | undefined
    this.driver.writeLater!(this.id, held.prepared, this.owner, (failure) => {
      if (failure === undefined) this.onStored?.(held.commit)
      done = failure === undefined ? Exit.void : failWith(failure)
      waiting?.(done)
    })
    return Effect.async<void, CommitError>((resume) => {
      if (done !== undefined) resume(done)
      else waiting = resume
    })
  }

  /** Writes; `undefined` when it was written synchronously and succeeded. */
  private writeNow(commit: Commit, prepared: P): Effect.Effect<void, CommitError> | undefined {
    const writeSync = this.driver.writeSync
    if (writeSync !== undefined) {
      try {
        writeSync(this.id, prepared, this.owner)
      } catch (error) {
        return failWith(error)
      }
      this.onStored?.(commit)
      return undefined
    }
    return Effect.asVoid(Effect.tap(this.driver.write(this.id, prepared, this.owner), () => this.onStored?.(commit)))
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flushLater(() => undefined)
    })
  }

  /** Writes the held-back start, if any, outside any fiber. */
  flushLater(done: () => void): void {
    const held = this.held
    if (held === undefined) return done()
    this.held = undefined
    const finished = (failure: unknown) => {
      if (failure === undefined) this.onStored?.(held.commit)
      else this.heldFailure = failure
      done()
    }
    if (this.driver.writeSync !== undefined) {
      let failure: unknown = undefined
      try {
        this.driver.writeSync(this.id, held.prepared, this.owner)
      } catch (error) {
        failure = error
      }
      finished(failure)
    } else {
      this.driver.writeLater!(this.id, held.prepared, this.owner, finished)
    }
  }
}

/** The writer of a run over a storage's driver. Closing its scope writes what is held back. */
export const make =
  <P>(driver: Driver<P>) => (id: string, options: WriterOptions): Effect.Effect<Writer, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => new RunWriter(id, options.owner, options.onStored, driver)),
      (writer) => Effect.async<void>((resume) => writer.flushLater(() => resume(Effect.void)))
    )

/** The events of a start and its end, as the end's commit. */
export const mergeCommits = (start: Commit, end: Commit): Commit => ({
  ...end,
  events: [...start.events ?? [], ...end.events ?? []]
})

/** The writer of a storage that writes each commit as it is given, holding nothing back. */
export const direct = (
  write: Driver<Commit>["write"],
  writeSync?: Driver<Commit>["writeSync"]
): (id: string, options: WriterOptions) => Effect.Effect<Writer, never, Scope.Scope> =>
  make<Commit>({
    prepare: (_, c) => c,
    merge: mergeCommits,
    write,
    ...(writeSync !== undefined ? { writeSync } : {}),
    holdStarts: false
  })

/**
 * A writer for a storage that has only `commit`: each commit goes through it
 * with the run's owner, and nothing is held back.
 */
export const fromCommit = (
  commit: (id: string, commit: Commit) => Effect.Effect<unknown, CommitError>
): (id: string, options: WriterOptions) => Effect.Effect<Writer, never, Scope.Scope> =>
  direct((id, c, owner) => commit(id, c.owner === owner ? c : { ...c, owner }))
