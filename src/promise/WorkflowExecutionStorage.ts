/**
 * Execution storage for the Promise API: subclass `WorkflowExecutionStorage`
 * to keep executions where you like, and pass an instance to the
 * `WorkflowService`; the engine then stores everything through it.
 *
 * @since 0.1.0
 */
import type { JournalEntry } from "../ExecutionStorage.js"
import type { ErrorInfo, StoredEvent } from "../WorkflowEvent.js"

/**
 * What `createExecution` receives.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutionCreation {
  readonly id: string
  readonly workflowId: string
  readonly input: unknown
  readonly status: string
  /** The execution whose body started this one: keep it to have cancels reach the children. */
  readonly parentId?: string
}

/**
 * What `loadExecution` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredExecution {
  readonly id: string
  readonly workflowId: string
  readonly input: unknown
  /** `created`, `running`, `waiting`, `completed`, `failed` or `cancelled`. */
  readonly status: string
  readonly output?: unknown
  readonly error?: ErrorInfo
  /** In the order they were appended. */
  readonly events: ReadonlyArray<StoredEvent>
  readonly createdAt?: number
  readonly updatedAt?: number
  /** As given to `createExecution`. */
  readonly parentId?: string
}

/**
 * The five methods every storage implements, plus optional ones that keep
 * their data in this process unless overridden: override `saveJournalEntry`
 * and `loadJournal` (and `storeError`) to resume executions in another
 * process, and `listExecutions` to list executions this instance did not
 * create.
 *
 * @since 0.1.0
 * @category models
 */
export abstract class WorkflowExecutionStorage {
  private readonly localJournals = new Map<string, Map<string, JournalEntry>>()
  private readonly localErrors = new Map<string, ErrorInfo>()
  private readonly localIds = new Set<string>()

  abstract createExecution(context: ExecutionCreation): Promise<{ readonly id: string }>
  abstract appendEvent(executionId: string, event: StoredEvent): Promise<void>
  abstract updateStatus(executionId: string, status: string): Promise<void>
  abstract storeOutput(executionId: string, output: unknown): Promise<void>
  abstract loadExecution(executionId: string): Promise<StoredExecution | null>

  /** Records the error a failed execution ended with. */
  async storeError(executionId: string, error: ErrorInfo): Promise<void> {
    this.localErrors.set(executionId, error)
  }

  /** The error stored by `storeError`. */
  async loadError(executionId: string): Promise<ErrorInfo | undefined> {
    return this.localErrors.get(executionId)
  }

  /** Saves a step-journal entry; an entry with the same `key` replaces the previous one. */
  async saveJournalEntry(executionId: string, entry: JournalEntry): Promise<void> {
    let journal = this.localJournals.get(executionId)
    if (journal === undefined) this.localJournals.set(executionId, journal = new Map())
    journal.set(entry.key, entry)
  }

  async loadJournal(executionId: string): Promise<ReadonlyArray<JournalEntry>> {
    return [...(this.localJournals.get(executionId)?.values() ?? [])]
  }

  /** Called after `createExecution`, so the default `listExecutions` knows the id. */
  async rememberExecution(executionId: string): Promise<void> {
    this.localIds.add(executionId)
  }

  async listExecutions(): Promise<ReadonlyArray<StoredExecution>> {
    const loaded = await Promise.all([...this.localIds].map((id) => this.loadExecution(id)))
    return loaded.filter((execution): execution is StoredExecution => execution !== null)
  }
}

interface MutableExecution {
  readonly id: string
  readonly workflowId: string
  readonly input: unknown
  readonly parentId?: string
  status: string
  output: unknown
  readonly events: Array<StoredEvent>
  readonly createdAt: number
  updatedAt: number
}

/**
 * The in-memory storage, the default of the WorkflowService.
 *
 * @since 0.1.0
 * @category constructors
 */
export class EphemeralWorkflowExecutionStorage extends WorkflowExecutionStorage {
  private readonly executions = new Map<string, MutableExecution>()

  async createExecution(context: ExecutionCreation): Promise<{ readonly id: string }> {
    const now = Date.now()
    this.executions.set(context.id, {
      id: context.id,
      workflowId: context.workflowId,
      input: context.input,
      ...(context.parentId !== undefined ? { parentId: context.parentId } : {}),
      status: context.status,
      output: undefined,
      events: [],
      createdAt: now,
      updatedAt: now
    })
    return { id: context.id }
  }

  async appendEvent(executionId: string, event: StoredEvent): Promise<void> {
    this.require(executionId).events.push(event)
  }

  async updateStatus(executionId: string, status: string): Promise<void> {
    const execution = this.require(executionId)
    execution.status = status
    execution.updatedAt = Date.now()
  }

  async storeOutput(executionId: string, output: unknown): Promise<void> {
    this.require(executionId).output = output
  }

  async loadExecution(executionId: string): Promise<StoredExecution | null> {
    const execution = this.executions.get(executionId)
    if (execution === undefined) return null
    const error = await this.loadError(executionId)
    return {
      ...execution,
      events: [...execution.events],
      ...(execution.output !== undefined ? { output: execution.output } : {}),
      ...(error !== undefined ? { error } : {})
    }
  }

  override async listExecutions(): Promise<ReadonlyArray<StoredExecution>> {
    const loaded = await Promise.all([...this.executions.keys()].map((id) => this.loadExecution(id)))
    return loaded.filter((execution): execution is StoredExecution => execution !== null)
  }

  private require(executionId: string): MutableExecution {
    const execution = this.executions.get(executionId)
    if (execution === undefined) throw new Error(`No execution with id "${executionId}"`)
    return execution
  }
}
