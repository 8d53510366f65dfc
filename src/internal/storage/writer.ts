/**
 * The run-scoped writer: the one way a run commits. Each storage describes
 * how it can write (a `Driver`); the writer adds the run's owner, tells the
 * engine of every stored commit, and holds a step's start back so that a
 * fast step is one write, not two.
 */
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import type { Commit, CommitError, Writer, WriterOptions } from "../../ExecutionStorage.js"
import { isCommitError } from "./service.js"

/**
 * How a storage writes one commit of a run (`owner` guards it).
 */
export interface Driver {
  /** Writes at once, throwing what `commit` fails with: for storages that can (no Effect per commit). */
  readonly writeSync?: (id: string, commit: Commit, owner: string) => void
  /** Writes, asynchronously. */
  readonly write: (id: string, commit: Commit, owner: string) => Effect.Effect<unknown, CommitError>
  /** Writes from outside any fiber (a held-back commit), telling `done` of the failure, if any. */
  readonly writeLater?: (id: string, commit: Commit, owner: string, done: (failure: unknown) => void) => void
  /**
   * Throws `InvalidPayload` if the commit could not be stored. Given (with `writeSync` or `writeLater`), the
   * writer holds a step's start back until its end or a microtask, checking it with this first: a start that
   * cannot be stored fails before its step's body runs.
   */
  readonly check?: (id: string, commit: Commit) => void
}

const failWith = (error: unknown): Exit.Exit<never, CommitError> =>
  isCommitError(error) ? Exit.fail(error) : Exit.die(error)

/** The end of the held-back start: the same journal key, so the two are one commit. */
const ends = (start: Commit, next: Commit): boolean =>
  next.journal !== undefined && start.journal?.key === next.journal.key

const merge = (start: Commit, end: Commit): Commit => ({
  ...end,
  events: [...start.events ?? [], ...end.events ?? []]
})

class RunWriter implements Writer {
  private held: Commit | undefined = undefined
  /** Why a held-back commit could not be written on its own: the run's next commit fails with it. */
  private heldFailure: unknown = undefined
  private scheduled = false
  private readonly holds: boolean

  constructor(
    private readonly id: string,
    private readonly owner: string,
    private readonly onStored: ((commit: Commit) => void) | undefined,
    private readonly driver: Driver
  ) {
    this.holds = driver.check !== undefined && (driver.writeSync !== undefined || driver.writeLater !== undefined)
  }

  commit(commit: Commit, options?: { readonly hold?: boolean }): Effect.Effect<void, CommitError> {
    if (this.heldFailure !== undefined) {
      const failure = this.heldFailure
      this.heldFailure = undefined
      return failWith(failure)
    }
    let next = commit
    const held = this.held
    if (held !== undefined) {
      this.held = undefined
      if (ends(held, commit)) next = merge(held, commit)
      else {
        // Written first, so the log keeps its order; if it fails, `commit` is not written (it would follow a gap).
        const before = this.writeNow(held)
        if (before !== undefined) return Effect.zipRight(before, Effect.suspend(() => this.commit(commit, options)))
      }
    }
    if (options?.hold === true && this.holds) {
      try {
        this.driver.check!(this.id, next)
      } catch (error) {
        return failWith(error)
      }
      this.held = next
      this.schedule()
      return Exit.void
    }
    return this.writeNow(next) ?? Exit.void
  }

  /** Writes; `undefined` when it was written synchronously and succeeded. */
  private writeNow(commit: Commit): Effect.Effect<void, CommitError> | undefined {
    const writeSync = this.driver.writeSync
    if (writeSync !== undefined) {
      try {
        writeSync(this.id, commit, this.owner)
      } catch (error) {
        return failWith(error)
      }
      this.onStored?.(commit)
      return undefined
    }
    return Effect.asVoid(Effect.tap(this.driver.write(this.id, commit, this.owner), () => this.onStored?.(commit)))
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flushLater(() => undefined)
    })
  }

  /** Writes the held-back commit, if any, outside any fiber. */
  flushLater(done: () => void): void {
    const held = this.held
    if (held === undefined) return done()
    this.held = undefined
    const finished = (failure: unknown) => {
      if (failure === undefined) this.onStored?.(held)
      else this.heldFailure = failure
      done()
    }
    if (this.driver.writeSync !== undefined) {
      let failure: unknown = undefined
      try {
        this.driver.writeSync(this.id, held, this.owner)
      } catch (error) {
        failure = error
      }
      finished(failure)
    } else {
      this.driver.writeLater!(this.id, held, this.owner, finished)
    }
  }
}

/**
 * The writer of a run over a storage's driver. Closing its scope writes what
 * is held back.
 */
export const make =
  (driver: Driver) => (id: string, options: WriterOptions): Effect.Effect<Writer, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => new RunWriter(id, options.owner, options.onStored, driver)),
      (writer) => Effect.async<void>((resume) => writer.flushLater(() => resume(Effect.void)))
    )

/**
 * A writer for a storage that has only `commit`: each commit goes through it
 * with the run's owner, and nothing is held back.
 */
export const fromCommit = (
  commit: (id: string, commit: Commit) => Effect.Effect<unknown, CommitError>
): (id: string, options: WriterOptions) => Effect.Effect<Writer, never, Scope.Scope> =>
  make({ write: (id, c, owner) => commit(id, c.owner === owner ? c : { ...c, owner }) })
