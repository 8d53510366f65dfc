/**
 * The engine, wired from its parts: the registry, the runs, leases and
 * recovery, observation, and the calls that steer executions.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import type * as Workflow from "../../Workflow.js"
import type { EngineOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import { Signals } from "../notifier.js"
import { ExecutionStorage } from "../storage/service.js"
import type { Spawn } from "../waits.js"
import * as Changes from "./changes.js"
import * as Children from "./children.js"
import * as Control from "./control.js"
import type { InvalidOption } from "./errors.js"
import { lookingUpStorableIds, positiveDuration, positiveInteger } from "./errors.js"
import * as Forking from "./forking.js"
import * as Leases from "./leases.js"
import * as Observe from "./observe.js"
import * as Registry from "./registry.js"
import * as Retention from "./retention.js"
import * as Runs from "./runs.js"
import * as Schedules from "./schedules.js"
import * as Signalling from "./signalling.js"
import * as Tails from "./tail.js"
import * as Timers from "./timers.js"
import * as Workers from "./workers.js"

export const make = (
  options: EngineOptions = {}
): Effect.Effect<WorkflowEngineService, InvalidOption, ExecutionStorage | Scope.Scope> =>
  Effect.gen(function*() {
    const pageSize = yield* positiveInteger("pageSize", options.pageSize ?? 256)
    const poll = yield* positiveDuration("pollInterval", options.pollInterval ?? "1 second")
    const lease = Duration.toMillis(yield* positiveDuration("lease", options.lease ?? "30 seconds"))
    /** This engine, as the owner of the executions it runs. */
    const owner = crypto.randomUUID()
    const engineScope = yield* Effect.scope
    const storage: ExecutionStorageService = lookingUpStorableIds(yield* ExecutionStorage)
    const signals = new Signals(storage.follow)
    const registry = Registry.make()
    // A child started from a body, with the engine's `start` (set below, once there is one).
    let spawnChild: Spawn = () => Effect.dieMessage("the engine is not ready")
    const runs = yield* Runs.make({
      storage,
      signals,
      owner,
      lease,
      spawn: (workflow, input, id) => spawnChild(workflow, input, id)
    })
    const tails = yield* Tails.make({ storage, signals, pageSize, poll })
    const observe = Observe.make({ storage, signals, registry, tails, pageSize, poll, runEnded: runs.ended })
    const recover = Leases.recover(storage, registry, runs)
    const clock = yield* Effect.clock
    /** What the loops that claim executions (queues, timers) run them with. */
    const loops = { storage, registry, runs, clock, lease }
    // The storage asked on its own only now and then, for what no hint told of (the waits of processes that
    // died, schedules set elsewhere).
    const slowPoll = Duration.max(poll, Duration.seconds(10))
    const workers = yield* Workers.make(options.queues ?? [], options.concurrency, { ...loops, poll })
    // Any end, here or elsewhere, may make room in a queue with a fleet-wide limit: a run here that no loop
    // launched (resumed by an approval, recovered, cancelled) too.
    signals.onFinish = workers.endedElsewhere
    // Each engine wakes the waits it stored at their time.
    const timers = yield* Timers.make({ ...loops, poll: slowPoll })
    signals.onWaiting = timers.waiting
    /** An execution running and held by no one, whose workflow is registered here: launched (claimed) here. */
    const adopt = (id: string) =>
      Effect.flatMap(storage.get(id), (record) => {
        const definition = registry.get(record.workflow)
        return definition === undefined || record.status !== "running" || record.leaseUntil !== undefined
          ? Effect.void
          : runs.launch(id, definition)
      }).pipe(Effect.ignore)
    // A child's end woke its parent here (its signal is stored): run the parent here, if its workflow is.
    const runtime = yield* Effect.runtime<never>()
    signals.onSignalled = (id) => Runtime.runFork(runtime)(Effect.forkIn(adopt(id), engineScope))
    if (storage.changes !== undefined) {
      yield* Changes.follow(
        storage.changes,
        signals,
        runs,
        workers,
        timers,
        options.recover === false
          ? () => Effect.void
          : adopt
      )
    }
    yield* Leases.keepAlive({ storage, runs, owner, lease })
    if (options.recover !== false) yield* Leases.keepRecovering(registry, recover, lease)
    let debug = false

    // Told of a workflow registered here (its schedules may tick here now), once there are schedules.
    let registered = () => {}
    const register = <A, I, E, R>(workflow: Workflow.Workflow<A, I, E, R>) =>
      Effect.flatMap(Effect.context<R>(), (context) =>
        // The services its runs are given, without the span the registration ran in (`start`'s, say): a
        // run's spans are children of its own.
        Effect.flatMap(
          registry.add(workflow, Context.omit(Tracer.ParentSpan)(context) as Context.Context<never>),
          (added) => {
            if (added) {
              registered()
            }
            return added && options.recover !== false
              ? Effect.asVoid(Effect.forkIn(recover(workflow.name), engineScope))
              : Effect.void
          }
        ))

    const { approve, cancel, resume, start, startChild } = Control.make({
      storage,
      signals,
      registry,
      runs,
      observe,
      register,
      clock,
      workers
    })
    const signal = Signalling.make({ storage, signals, registry, clock, adopt })
    const retention = Retention.make(storage, clock)
    if (options.retention !== undefined) {
      yield* retention.keepPurging(options.retention)
    }
    spawnChild = Children.spawner({ storage, runs, startChild, resume })
    const schedules = yield* Schedules.make({
      storage,
      registry,
      clock,
      poll: slowPoll,
      register,
      ticks: options.recover !== false,
      start: (name, input, startOptions) => start(name, input, startOptions) as Effect.Effect<unknown, unknown>
    })
    registered = schedules.registered

    const service: WorkflowEngineService = {
      register,
      list: registry.list,
      definition: (name) => Effect.sync(() => Option.fromNullable(registry.get(name)?.workflow)),
      start: start as WorkflowEngineService["start"],
      handle: (id) => Effect.map(storage.get(id), (record) => observe.handle(id, record.workflow, false, cancel(id))),
      events: observe.events,
      result: observe.result,
      status: (id) => storage.get(id),
      cancel,
      resume,
      approve,
      signal,
      purge: retention.purge,
      ...schedules.service,
      fork: Forking.make({ storage, registry, runs, observe, clock, cancel }),
      executions: (filter) => storage.list(filter),
      debug: Effect.sync(() => debug),
      setDebug: (on) =>
        Effect.sync(() => {
          debug = on
        })
    }
    return service
  })
