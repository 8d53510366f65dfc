/**
 * The run-scoped writer: the one way a run commits. Each storage describes
 * how it writes (a `Driver`); the writer adds the run's owner, tells the
 * engine of every stored commit, and holds commits back so that they share
 * one write with the next: a fast step's start with its end, the end of a
 * run's last step with its outcome.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type {
  Commit,
  CommitError,
  ExecutionStorageService,
  NewExecution,
  Writer,
  WriterOptions
} from "../../ExecutionStorage.js"
import { onClose } from "../scopeFinalizer.js"
import type { Creation } from "./creating.js"
import { creation } from "./creating.js"
import type { EncodedCommit } from "./payload.js"
import { encodeCommit } from "./payload.js"
import { conditional, isCommitError } from "./service.js"

/**
 * How a storage writes one commit of a run (`owner` guards it). `P` is a
 * commit prepared for writing (encoded, for a storage that encodes): a
 * held-back start is prepared when it is handed over, so it is stored as it
 * was then, and a start that cannot be stored fails before its step runs.
 */
export interface Driver<P> {
  /** Prepares a commit; throws `InvalidPayload` when it cannot be stored. */
  readonly prepare: (id: string, commit: Commit) => P
  /**
   * Prepares the creation of the execution, to be written with the run's first write (`merge` keeps it);
   * throws `InvalidPayload` when it cannot be stored. The writers over a driver that has it create when
   * asked (`createsExecutions`).
   */
  readonly prepareCreate?: (execution: NewExecution) => P
  /** One commit of a held commit and the next (see `mergeCommits`). */
  readonly merge: (first: P, next: P) => P
  /**
   * Writes at once, throwing what `commit` fails with: for storages that can (no Effect per commit).
   * Returns the seq the log ends at after the write; `last` is what the run's previous write returned, if
   * it wrote before (the log may have grown since, by others' commits).
   */
  readonly writeSync?: (id: string, prepared: P, owner: string, last: number | undefined) => number
  /** Writes, asynchronously. */
  readonly write: (id: string, prepared: P, owner: string) => Effect.Effect<unknown, CommitError>
  /**
   * Writes without a fiber, telling `done` of the failure, if any. A writer over a driver that has it (and
   * no `writeSync`) makes every write with it, one at a time, in order.
   */
  readonly writeLater?: (id: string, prepared: P, owner: string, done: (failure: unknown) => void) => void
  /** Whether a commit may be held back until the next or a microtask (needs `writeSync` or `writeLater`). */
  readonly holds: boolean
}

const failWith = (error: unknown): Exit.Exit<never, CommitError> =>
  isCommitError(error) ? Exit.fail(error) : Exit.die(error)

interface Held<P> {
  /** The last commit held: told of when they are stored. */
  readonly commit: Commit
  /** The key of the entry the held commits journal, if any. */
  readonly journaled: string | undefined
  readonly prepared: P
}

class RunWriter<P> implements Writer {
  private held: Held<P> | undefined = undefined
  /** Why a held-back start could not be written on its own: the run's next commit fails with it. */
  private heldFailure: unknown = undefined
  private scheduled = false
  /** An asynchronous write in flight, and those waiting for it to end, in order. */
  private writing = false
  private readonly queued: Array<() => void> = []
  /** Why a write failed: a write queued after it is not made, as it would follow a gap. */
  private writeFailure: unknown = undefined
  /** Where the log ended after this run's last `writeSync`. */
  private last: number | undefined = undefined

  constructor(
    private readonly id: string,
    private readonly owner: string,
    private readonly onStored: ((commit: Commit) => void) | undefined,
    private readonly onWrite: ((commit: Commit) => (failure: unknown) => void) | undefined,
    private readonly driver: Driver<P>,
    /** Told when the first write, which creates the execution, has ended (see `createFirst`). */
    private onCreated?: ((failure: unknown) => void) | undefined
  ) {}

  /**
   * Holds back the execution's creation, as the first commit: it is written with the run's next commit, or
   * on its own at the next microtask, like any held commit. A creation that cannot be prepared fails the
   * run's first commit, and is told as failed.
   */
  createFirst(execution: NewExecution): void {
    try {
      this.held = { commit: {}, journaled: undefined, prepared: this.driver.prepareCreate!(execution) }
      this.schedule()
    } catch (error) {
      this.heldFailure = error
      this.created(error)
    }
  }

  /** The first write has ended: the creation with it, if it was held. */
  private created(failure: unknown): void {
    const told = this.onCreated
    if (told === undefined) return
    this.onCreated = undefined
    told(failure)
  }

  commit(commit: Commit, options?: { readonly hold?: boolean }): Effect.Effect<void, CommitError> {
    if (this.heldFailure !== undefined) {
      const failure = this.heldFailure
      this.heldFailure = undefined
      return failWith(failure)
    }
    const held = this.held
    // A commit journals one entry: one that journals another than the held commit's is written after it.
    // So is one that checks or answers an approval, or waits unless a signal came: it may be refused
    // (`ApprovalNotPending`, `SignalPending`) for reasons of its own, and the run goes on after that refusal,
    // so what was held must not be rolled back with it.
    if (
      held !== undefined && (conditional(commit) || (
        held.journaled !== undefined && commit.journal !== undefined && held.journaled !== commit.journal.key
      ))
    ) {
      return this.afterHeld(() => this.commit(commit, options))
    }
    let prepared: P
    try {
      prepared = this.driver.prepare(this.id, commit)
    } catch (error) {
      // It cannot be stored; what was held back before it happened, and is stored.
      return this.afterHeld(() => failWith(error))
    }
    if (held !== undefined) {
      // The held commit and this one are one write, told of as this one.
      this.held = undefined
      prepared = this.driver.merge(held.prepared, prepared)
    }
    if (options?.hold === true && this.driver.holds) {
      this.held = { commit, journaled: commit.journal?.key ?? held?.journaled, prepared }
      this.schedule()
      // A write of the run is still out (a held commit a microtask flushed): what follows a commit that
      // starts an entry (a step's body) must not come before that write is stored, nor at all if it failed.
      // (What follows a step's end is ordered by the run's next commit, which writes the end first.)
      return this.writing && commit.journal?.state === "started"
        ? this.awaited((done) => this.whenWritten(done))
        : Exit.void
    }
    return this.writeNow(commit, prepared) ?? Exit.void
  }

  /**
   * Writes what is held back first, so the log keeps its order; `next` only if that was stored: at once when
   * it was written at once (a step's start after the previous step's end costs no Effect operation).
   */
  private afterHeld(next: () => Effect.Effect<void, CommitError>): Effect.Effect<void, CommitError> {
    const held = this.held
    if (held === undefined) return next()
    this.held = undefined
    // Started at once: it is out of the held slot now, so it must be written even if nobody waits for it.
    const before = this.writeNow(held.commit, held.prepared)
    return before === undefined ? next() : Effect.zipRight(before, Effect.suspend(next))
  }

  /** Writes (an asynchronous write starts at once); `undefined` when it was written synchronously. */
  private writeNow(commit: Commit, prepared: P): Effect.Effect<void, CommitError> | undefined {
    if (this.driver.writeSync !== undefined) {
      const failure = this.writeSync(commit, prepared)
      return failure === undefined ? undefined : failWith(failure)
    }
    if (this.driver.writeLater === undefined) {
      const write = Effect.asVoid(
        Effect.tap(this.driver.write(this.id, prepared, this.owner), () => this.onStored?.(commit))
      )
      const onWrite = this.onWrite
      if (onWrite === undefined) return write
      return Effect.suspend(() => {
        const ended = onWrite(commit)
        return Effect.onExit(write, (exit) => Effect.sync(() => ended(Exit.isSuccess(exit) ? undefined : exit.cause)))
      })
    }
    return this.awaited((done) => this.writeInOrder(commit, prepared, done))
  }

  /** Writes with the driver's `writeSync`: the failure it threw, if any. */
  private writeSync(commit: Commit, prepared: P): unknown {
    const ended = this.onWrite?.(commit)
    try {
      this.last = this.driver.writeSync!(this.id, prepared, this.owner, this.last)
    } catch (error) {
      ended?.(error)
      this.created(error)
      return error
    }
    ended?.(undefined)
    this.created(undefined)
    this.onStored?.(commit)
    return undefined
  }

  /**
   * What `start` tells its callback (undefined, or a failure), as an Effect: started at once, so it goes on
   * whether or not the Effect runs.
   */
  private awaited(start: (done: (failure: unknown) => void) => void): Effect.Effect<void, CommitError> {
    let done: Exit.Exit<void, CommitError> | undefined
    let waiting: ((exit: Exit.Exit<void, CommitError>) => void) | undefined
    start((failure) => {
      done = failure === undefined ? Exit.void : failWith(failure)
      waiting?.(done)
    })
    return Effect.async<void, CommitError>((resume) => {
      if (done !== undefined) resume(done)
      else waiting = resume
    })
  }

  /**
   * Writes with `writeLater` once the run's writes before it have ended: the run's writes are stored in
   * the order they were made, even where the storage could reorder concurrent ones (a connection pool).
   */
  private writeInOrder(commit: Commit, prepared: P, done: (failure: unknown) => void): void {
    let ended: ((failure: unknown) => void) | undefined
    const finish = (failure: unknown) => {
      ended?.(failure)
      this.created(failure)
      if (failure === undefined) this.onStored?.(commit)
      else this.writeFailure ??= failure
      done(failure)
      this.nextInOrder()
    }
    this.inOrder(() => {
      if (this.writeFailure !== undefined) return finish(this.writeFailure)
      // Timed from here: the writes of the run before it are not its latency.
      ended = this.onWrite?.(commit)
      this.driver.writeLater!(this.id, prepared, this.owner, finish)
    })
  }

  /** Tells `done` once the run's writes made so far have ended, with the first failure among them. */
  private whenWritten(done: (failure: unknown) => void): void {
    this.inOrder(() => {
      done(this.writeFailure)
      this.nextInOrder()
    })
  }

  /** Runs `start` once the writes before it have ended; it calls `nextInOrder` when it has. */
  private inOrder(start: () => void): void {
    if (this.writing) {
      this.queued.push(start)
    } else {
      this.writing = true
      start()
    }
  }

  private nextInOrder(): void {
    const next = this.queued.shift()
    if (next !== undefined) next()
    else this.writing = false
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (this.held !== undefined) this.flushLater(() => undefined)
    })
  }

  /** Writes what is held back, if anything, outside any fiber; `done` once every write has ended. */
  flushLater(done: () => void): void {
    const held = this.held
    if (held === undefined) return this.whenWritten(() => done())
    this.held = undefined
    const finished = (failure: unknown) => {
      if (failure !== undefined) this.heldFailure = failure
      done()
    }
    if (this.driver.writeSync === undefined) return this.writeInOrder(held.commit, held.prepared, finished)
    const failure = this.writeSync(held.commit, held.prepared)
    if (failure !== undefined) return finished(failure)
    done()
  }
}

/** The storages' `writer`s that create their execution with their first write when asked. */
const creators = new WeakSet<object>()

/**
 * Whether a storage's `writer` creates its execution with its first write when asked
 * (`WriterOptions.create`): one made here over a driver that can. A writer put in its place (a storage
 * that wraps another, a storage of a user's own) is not asked.
 */
export const createsExecutions = (writer: ExecutionStorageService["writer"]): boolean => creators.has(writer)

/** The writer of a run over a storage's driver. Closing its scope writes what is held back. */
export const make = <P>(driver: Driver<P>): ExecutionStorageService["writer"] => {
  const writer = writerOver(driver)
  if (driver.prepareCreate !== undefined) creators.add(writer)
  return writer
}

const writerOver =
  <P>(driver: Driver<P>) => (id: string, options: WriterOptions): Effect.Effect<Writer, never, Scope.Scope> =>
    Effect.suspend(() => {
      // A new writer holds nothing: were the finalizer never added (an interruption here), nothing is lost.
      const writer = new RunWriter(id, options.owner, options.onStored, options.onWrite, driver, options.onCreated)
      const create = options.create
      // Only after the finalizer is added: a creation held is written when the scope closes.
      const created = create === undefined ? Effect.void : Effect.sync(() => writer.createFirst(create))
      return Effect.as(
        Effect.zipRight(onClose(Effect.async<void>((resume) => writer.flushLater(() => resume(Effect.void)))), created),
        writer
      )
    })

/**
 * Two commits as one: the events of both in order, and of the rest what the later one says where it says
 * anything (a step's end supersedes its start; an outcome follows a step's end).
 */
export const mergeCommits = (first: Commit, next: Commit): Commit => {
  const merged: Record<string, unknown> = { ...first }
  for (const [key, value] of Object.entries(next)) if (value !== undefined) merged[key] = value
  merged.events = [...first.events ?? [], ...next.events ?? []]
  return merged as Commit
}

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
    holds: false
  })

/**
 * A writer for a storage that has only `commit`: each commit goes through it
 * with the run's owner, and nothing is held back.
 */
export const fromCommit = (
  commit: (id: string, commit: Commit) => Effect.Effect<unknown, CommitError>
): (id: string, options: WriterOptions) => Effect.Effect<Writer, never, Scope.Scope> =>
  direct((id, c, owner) => commit(id, c.owner === owner ? c : { ...c, owner }))

/** A commit with its payloads encoded (for storages that store JSON text): one that cannot be fails first. */
export interface Encoded {
  readonly commit: Commit
  readonly encoded: EncodedCommit
  /** The execution's creation, written first, in the same transaction (`Driver.prepareCreate`). */
  readonly create?: Creation
}

/** Encodes a commit; throws `InvalidPayload` when it cannot be stored. */
export const encode = (id: string, commit: Commit): Encoded => ({ commit, encoded: encodeCommit(id, commit) })

/** How a storage that stores JSON text prepares and merges commits. */
export const encoding: Pick<Driver<Encoded>, "prepare" | "merge"> = {
  prepare: encode,
  merge: (first, next) => ({
    commit: mergeCommits(first.commit, next.commit),
    ...(first.create !== undefined ? { create: first.create } : {}),
    // As `mergeCommits` merges the commits: the later one's fields win.
    encoded: {
      events: [...first.encoded.events, ...next.encoded.events],
      journalResult: next.commit.journal !== undefined ? next.encoded.journalResult : first.encoded.journalResult,
      answer: next.encoded.answer ?? first.encoded.answer,
      signal: next.encoded.signal ?? first.encoded.signal,
      parentSignal: next.encoded.parentSignal ?? first.encoded.parentSignal,
      output: next.encoded.output ?? first.encoded.output,
      error: next.encoded.error ?? first.encoded.error
    }
  })
}

/** How a storage that stores JSON text prepares a creation (`Driver.prepareCreate`), stamped on `now`. */
export const encodingCreation = (now: () => number): NonNullable<Driver<Encoded>["prepareCreate"]> => {
  const nothing = encodeCommit("", {})
  return (execution) => ({ commit: {}, encoded: nothing, create: creation(execution, now()) })
}
