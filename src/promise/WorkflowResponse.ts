/**
 * `WorkflowResponse`: wraps any async generator of workflow events (a
 * Runnable's `invoke()`, for instance) so that any number of consumers, at any
 * time and concurrently, each see every event, and the result and schema can
 * be awaited as often as needed.
 *
 * @since 0.1.0
 */
import * as WorkflowEvent from "../WorkflowEvent.js"

/**
 * @since 0.1.0
 * @category models
 */
export type EventSource<TReturn> =
  | AsyncGenerator<WorkflowEvent.WorkflowEvent | WorkflowEvent.EventDraft, TReturn, unknown>
  | AsyncIterator<WorkflowEvent.WorkflowEvent | WorkflowEvent.EventDraft, TReturn, unknown>

/**
 * @since 0.1.0
 * @category constructors
 */
export class WorkflowResponse<TReturn = unknown> {
  private readonly buffer: Array<WorkflowEvent.WorkflowEvent> = []
  private finished = false
  private failure: { readonly error: unknown } | undefined
  private returnValue: TReturn | undefined
  private pulling: Promise<void> | undefined
  private responsePromise: Promise<TReturn> | undefined
  private schemaPromise: Promise<unknown> | undefined

  constructor(
    private readonly source: EventSource<TReturn>,
    private readonly initialMetadata: Record<string, unknown> = {}
  ) {}

  get metadata(): Record<string, unknown> {
    return this.initialMetadata
  }

  get workflowInstanceId(): string | undefined {
    return this.initialMetadata.workflowInstanceId as string | undefined
  }

  get workflowDefinitionId(): string | undefined {
    return this.initialMetadata.workflowDefinitionId as string | undefined
  }

  /**
   * Every event from the first. The source is read once, by whichever consumer
   * gets ahead; the others read the shared buffer. A failure of the source ends
   * the stream with a `workflow_error` event.
   */
  async *stream(): AsyncGenerator<WorkflowEvent.WorkflowEvent, TReturn | undefined, unknown> {
    let next = 0
    while (true) {
      if (next < this.buffer.length) {
        yield this.buffer[next++]!
      } else if (this.finished) {
        return this.returnValue
      } else {
        await this.pull()
      }
    }
  }

  /** The data of the last `final_output` event, else the source's return value; rejects with its error. */
  response(): Promise<TReturn> {
    return this.responsePromise ??= this.drain().then(() => {
      if (this.failure !== undefined) throw this.failure.error
      const last = this.buffer.findLast((event) => event.type === "final_output")
      return last === undefined
        ? this.returnValue as TReturn
        : (last as WorkflowEvent.EventOf<"final_output">).data as TReturn
    })
  }

  /** The schema of the last `schema_definition` event, if any. */
  outputSchema(): Promise<unknown> {
    return this.schemaPromise ??= this.drain().then(() => {
      const last = this.buffer.findLast((event) => event.type === "schema_definition")
      if (last === undefined && this.failure !== undefined) throw this.failure.error
      return (last as WorkflowEvent.EventOf<"schema_definition"> | undefined)?.schema
    })
  }

  /** All events, once the source is done: a copy, safe to change. */
  async allEvents(): Promise<Array<WorkflowEvent.WorkflowEvent>> {
    await this.drain()
    return [...this.buffer]
  }

  private async drain(): Promise<void> {
    while (!this.finished) await this.pull()
  }

  /** One read of the source at a time, shared by every consumer waiting for it. */
  private pull(): Promise<void> {
    return this.pulling ??= this.source.next().then(
      (result) => {
        if (result.done === true) {
          this.finished = true
          this.returnValue = result.value
        } else {
          this.buffer.push({ timestamp: Date.now(), ...result.value } as WorkflowEvent.WorkflowEvent)
        }
      },
      (error: unknown) => {
        this.finished = true
        this.failure = { error }
        this.buffer.push({
          type: "workflow_error",
          timestamp: Date.now(),
          error: WorkflowEvent.errorInfo(error),
          ...(this.workflowInstanceId !== undefined ? { workflowInstanceId: this.workflowInstanceId } : {})
        })
      }
    ).finally(() => {
      this.pulling = undefined
    })
  }
}
