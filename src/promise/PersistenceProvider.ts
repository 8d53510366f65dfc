/**
 * Step-level state a Runnable saves so that it can resume from its next step.
 * The WorkflowService hands its provider to every run as
 * `context.persistence` and clears an execution's state when it completes.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkflowStateRecord {
  /** The workflow definition, e.g. the id it is registered under. */
  readonly definitionId: string
  /** The step to run next. */
  readonly currentStepId: string
  /** The output of the step before it, the next step's input. */
  readonly lastOutput: unknown
  /** Whatever context the workflow wants back. */
  readonly workflowContext: unknown
  readonly updatedAt?: Date
}

/**
 * @since 0.1.0
 * @category models
 */
export abstract class PersistenceProvider {
  abstract saveWorkflowState(
    workflowInstanceId: string,
    definitionId: string,
    nextStepId: string,
    lastOutput: unknown,
    workflowContext: unknown
  ): Promise<void>
  abstract loadWorkflowState(workflowInstanceId: string): Promise<WorkflowStateRecord | null>
  abstract clearWorkflowState(workflowInstanceId: string): Promise<void>
}

/**
 * Keeps state in this process: for tests and single-process use.
 *
 * @since 0.1.0
 * @category constructors
 */
export class InMemoryPersistenceProvider extends PersistenceProvider {
  private readonly states = new Map<string, WorkflowStateRecord>()

  async saveWorkflowState(
    workflowInstanceId: string,
    definitionId: string,
    nextStepId: string,
    lastOutput: unknown,
    workflowContext: unknown
  ): Promise<void> {
    this.states.set(workflowInstanceId, {
      definitionId,
      currentStepId: nextStepId,
      lastOutput: structuredClone(lastOutput),
      workflowContext: structuredClone(workflowContext),
      updatedAt: new Date()
    })
  }

  async loadWorkflowState(workflowInstanceId: string): Promise<WorkflowStateRecord | null> {
    const state = this.states.get(workflowInstanceId)
    return state === undefined ? null : structuredClone(state)
  }

  async clearWorkflowState(workflowInstanceId: string): Promise<void> {
    this.states.delete(workflowInstanceId)
  }
}
