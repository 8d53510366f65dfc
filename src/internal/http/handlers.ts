/**
 * What each endpoint of the HTTP API does, over the engine and the storage it runs on. The public
 * module wires these to its `HttpApi` definition; here they are plain functions of decoded requests.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ExecutionStorageService, ListFilter } from "../../ExecutionStorage.js"
import type { ApprovalAnswer } from "../../Workflow.js"
import type { StartOptions, WorkflowEngineService, WorkflowHandle } from "../../WorkflowEngine.js"
import { InvalidOption } from "../engine/errors.js"
import { StorageError } from "../storage/service.js"
import * as Sse from "./sse.js"

/** A start as the API takes it: the workflow's name, its input and the engine's start options. */
export type StartRequest = Loose<StartOptions> & {
  readonly workflow: string
  readonly input?: unknown
}

/** As decoded: an optional field may be there as `undefined`. */
type Loose<A> = { readonly [K in keyof A]?: A[K] | undefined }

/** An answer to a waiting approval, as the API takes it. */
export type ApproveRequest = Loose<ApprovalAnswer> & { readonly status: ApprovalAnswer["status"] }

/**
 * A storage failure as the API reports it: its operation and reason, not its cause (a driver's error,
 * with its stack, is for the server's logs).
 */
const withoutCause = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapError(effect, (error) =>
    error instanceof StorageError && error.cause !== undefined
      ? new StorageError({ operation: error.operation, reason: error.reason }) as E
      : error)

const started = (handle: WorkflowHandle<unknown>) => ({
  id: handle.id,
  workflow: handle.workflow,
  created: handle.created
})

/** Only the options given: the engine tells an absent option from one set to `undefined`. */
const defined = <A extends object>(options: Loose<A>): A =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as A

/** The first `seq` to stream: after `Last-Event-ID` when a client reconnects, else `from`, else 1. */
const firstSeq = (lastEventId: string | undefined, from: number | undefined): Effect.Effect<number, InvalidOption> => {
  if (lastEventId === undefined) return Effect.succeed(from ?? 1)
  return /^\d{1,15}$/.test(lastEventId.trim())
    ? Effect.succeed(Number(lastEventId.trim()) + 1)
    : Effect.fail(new InvalidOption({ option: "Last-Event-ID", value: lastEventId, expected: "an event's seq" }))
}

/** The handlers, over `engine` and `storage`. */
export const make = (
  engine: WorkflowEngineService,
  storage: ExecutionStorageService,
  options: { readonly heartbeat: Duration.DurationInput }
) => ({
  workflows: Effect.map(
    engine.list,
    (workflows) =>
      workflows.map(({ description, name }) => description === undefined ? { name } : { name, description })
  ),
  start: ({ input, workflow, ...startOptions }: StartRequest) =>
    withoutCause(Effect.map(engine.start(workflow, input ?? {}, defined<StartOptions>(startOptions)), started)),
  executions: (filter: Loose<ListFilter>) => withoutCause(engine.executions(defined<ListFilter>(filter))),
  status: (id: string) => withoutCause(engine.status(id)),
  events: (id: string, page: { readonly from?: number | undefined; readonly limit?: number | undefined }) =>
    withoutCause(Effect.gen(function*() {
      // The page is read after the record: an event it names as stored is in the page's reach.
      const record = yield* engine.status(id)
      const from = page.from ?? 1
      const events = yield* storage.events(id, { fromSeq: from, limit: page.limit ?? 100 })
      const next = events.length > 0 ? events[events.length - 1]!.seq + 1 : Math.max(from, 1)
      return { events, next, status: record.status }
    })),
  live: (id: string, request: { readonly lastEventId: string | undefined; readonly from: number | undefined }) =>
    withoutCause(Effect.gen(function*() {
      const fromSeq = yield* firstSeq(request.lastEventId, request.from)
      // Known before the response starts: an unknown execution is a 404, not an empty stream.
      yield* engine.status(id)
      return Sse.response(engine.events(id, { fromSeq }), options.heartbeat)
    })),
  approve: (id: string, taskId: string, answer: ApproveRequest) =>
    withoutCause(engine.approve(id, taskId, defined<ApprovalAnswer>(answer))),
  signal: (id: string, name: string, payload: unknown) => withoutCause(engine.signal(id, name, payload)),
  cancel: (id: string) => withoutCause(engine.cancel(id)),
  resume: (id: string) => withoutCause(Effect.map(engine.resume(id), started))
})
