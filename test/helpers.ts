import { Chunk, Clock, Duration, Effect, Exit, Scope, Stream, TestClock, TestServices } from "effect"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import type { Workflow, WorkflowEvent } from "../src/index.js"

export const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), (chunk) => Chunk.toReadonlyArray(chunk))

/**
 * An engine over the ExecutionStorage in context, in a scope of its own:
 * `stop` shuts it down like a process exiting (runs are interrupted, their
 * stored state is left as it was).
 */
export const startEngine = (options?: WorkflowEngine.EngineOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    // Stopped with the test at the latest, so no engine outlives the storage it uses.
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const engine = yield* Scope.extend(WorkflowEngine.make(options), scope)
    return { engine, stop: Scope.close(scope, Exit.void) }
  })

/**
 * Starts `workflow` on one engine, waits for `until`, shuts that engine down as
 * a dying process would, and returns a second engine over the same storage
 * with `next` (default: the same workflow) registered.
 */
export const interruptAndRestart = <A, I, E, R>(
  workflow: Workflow.Workflow<A, I, E, R>,
  input: I,
  until: (engine: WorkflowEngine.WorkflowEngineService, id: string) => Effect.Effect<unknown, unknown>,
  next: Workflow.Any = workflow
) =>
  Effect.gen(function*() {
    const first = yield* startEngine()
    const handle = yield* first.engine.start(workflow, input)
    yield* until(first.engine, handle.id)
    yield* first.stop
    // Without automatic recovery, so that the test decides when to resume.
    const second = yield* startEngine({ recover: false })
    yield* second.engine.register(next as Workflow.Workflow<unknown, unknown, unknown>)
    return { id: handle.id, engine: second.engine }
  })

/** Waits until the execution's log contains an event matching `predicate`. */
export const waitForEvent = (
  engine: WorkflowEngine.WorkflowEngineService,
  id: string,
  predicate: (event: WorkflowEvent.StoredEvent) => boolean
) =>
  engine.events(id).pipe(
    Stream.filter(predicate),
    Stream.runHead,
    Effect.flatMap(Effect.orDieWith(() => new Error(`stream of ${id} ended without the expected event`)))
  )

export const stepNames = (events: ReadonlyArray<WorkflowEvent.StoredEvent>, type: "step_start" | "step_end") =>
  events.filter((event) => event.type === type).map((event) => event.runnableName)

/** Every stored log must be numbered 1..n with no gap and no duplicate. */
export const expectContiguous = (events: ReadonlyArray<WorkflowEvent.StoredEvent>) => {
  const seqs = events.map((event) => event.seq)
  const expected = Array.from({ length: events.length }, (_, i) => i + 1)
  if (JSON.stringify(seqs) !== JSON.stringify(expected)) {
    throw new Error(`seq not contiguous: ${seqs.join(",")}`)
  }
}

/**
 * Waits (in real time, so storage I/O can happen) until some fiber sleeps on
 * the TestClock until `after` from now: only then does `TestClock.adjust`
 * wake it. (Other fibers, a connection pool's for one, may sleep too.)
 */
export const untilSleeping = (after: Duration.DurationInput) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(after)
    for (let i = 0; i < 1000; i++) {
      if (Chunk.some(yield* TestClock.sleeps(), (wakeUp) => wakeUp === deadline)) return
      yield* TestServices.provideLive(Effect.sleep("2 millis"))
    }
    return yield* Effect.dieMessage(`nothing went to sleep on the TestClock until ${deadline}`)
  })

/** A real pause (not on the Clock, which may be a TestClock): for storage I/O and other fibers to go on. */
export const breathe = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))

/** Holds once `check` does, looking every few real ms, for at most 30 s; dies naming `what` after. */
export const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 6_000; i++) {
      if (yield* check) return
      yield* breathe
    }
    return yield* Effect.dieMessage(`never: ${what}`)
  })

/** The execution as the storage in context has it. */
export const stored = (id: string) => Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.get(id))

/** Whether the execution is `waiting`. */
export const waiting = (id: string) => Effect.map(stored(id), (record) => record.status === "waiting")
