/**
 * `@token-ring/workflow`: durable, observable workflows on Effect, with two
 * front doors over one engine: the Effect modules (as namespaces) and the
 * Promise API (as classes and functions).
 *
 * @since 0.1.0
 */

/**
 * Scores how complex a prompt is and whether to run it directly or plan it first.
 *
 * @since 0.1.0
 */
export * as Analyzer from "./Analyzer.js"
/**
 * Where chat commands write, and `render`, which shows a run's events live.
 *
 * @since 0.1.0
 */
export * as ChatAdapter from "./ChatAdapter.js"
/**
 * How one event and a stored execution read in a chat.
 *
 * @since 0.2.0
 */
export * as ChatRender from "./ChatRender.js"
/**
 * Reading a chat command's text into a `Command` (data) or a `UsageError`.
 *
 * @since 0.2.0
 */
export * as CommandLine from "./CommandLine.js"
/**
 * The chat commands `/workflow`, `/plan`, `/apply`, `/analyze` as Effects over the engine.
 *
 * @since 0.1.0
 */
export * as Commands from "./Commands.js"
/**
 * The storage port and its layers (memory, SQLite, PostgreSQL, any `SqlClient`).
 *
 * @since 0.1.0
 */
export * as ExecutionStorage from "./ExecutionStorage.js"
/**
 * Named tasks, fan-out, work queues, lazy tasks and recursive processing, journaled inside workflows.
 *
 * @since 0.1.0
 */
export * as Flow from "./Flow.js"
/**
 * The models a run may name: `builtin`, OpenAI and Anthropic models, or any `LanguageModel` layer.
 *
 * @since 0.1.0
 */
export * as Models from "./Models.js"
/**
 * Plans: the tasks `/plan` makes and `/apply` runs.
 *
 * @since 0.1.0
 */
export * as Plan from "./Plan.js"
/**
 * Turns a prompt into a plan: built-in and `LanguageModel` layers.
 *
 * @since 0.1.0
 */
export * as Planner from "./Planner.js"
/**
 * The built-in `task-planner`, `plan-executor` and `prompt-analyzer` workflows.
 *
 * @since 0.1.0
 */
export * as Planning from "./Planning.js"
/**
 * A `LanguageModel` that answers from a script, for tests and demos.
 *
 * @since 0.1.0
 */
export * as ScriptedModel from "./ScriptedModel.js"
/**
 * Runs a plan task that names no workflow: built-in and `LanguageModel` layers.
 *
 * @since 0.1.0
 */
export * as TaskExecutor from "./TaskExecutor.js"
/**
 * The engine's spans and metrics: what a tracer and a metric reader installed where it runs receive.
 *
 * @since 0.2.0
 */
export * as Telemetry from "./Telemetry.js"
/**
 * Defining workflows, and what a workflow body uses while it runs.
 *
 * @since 0.1.0
 */
export * as Workflow from "./Workflow.js"
/**
 * The engine: registers workflows and starts, observes and steers their executions.
 *
 * @since 0.1.0
 */
export * as WorkflowEngine from "./WorkflowEngine.js"
/**
 * The thirteen event types, as Schemas.
 *
 * @since 0.1.0
 */
export * as WorkflowEvent from "./WorkflowEvent.js"

/** @since 0.1.0 */
export type * as workflowEvents from "./promise/events.js"
/** @since 0.1.0 */
export { chatCommands, ChatService } from "./promise/chatCommands.js"
/** @since 0.1.0 */
export type * from "./promise/events.js"
/** @since 0.1.0 */
export { all, deferred, flow, parallel, queue, recursiveProcessor } from "./promise/flow.js"
/** @since 0.1.0 */
export { InMemoryPersistenceProvider, PersistenceProvider } from "./promise/PersistenceProvider.js"
/** @since 0.1.0 */
export type { WorkflowStateRecord } from "./promise/PersistenceProvider.js"
/** @since 0.1.0 */
export { ChatCommandRegistry, Registry, Service, ServiceRegistry } from "./promise/Registry.js"
/** @since 0.1.0 */
export type { ChatCommand, TokenRingPackage } from "./promise/Registry.js"
/** @since 0.1.0 */
export { Runnable } from "./promise/Runnable.js"
/** @since 0.1.0 */
export type { RunnableOptions, WorkflowContext } from "./promise/Runnable.js"
/** @since 0.2.0 */
export type { RunnableYield } from "./promise/Runnable.js"
/** @since 0.1.0 */
export { EphemeralWorkflowExecutionStorage, WorkflowExecutionStorage } from "./promise/WorkflowExecutionStorage.js"
/** @since 0.1.0 */
export type { ExecutionCreation, StoredExecution } from "./promise/WorkflowExecutionStorage.js"
/** @since 0.1.0 */
export { WorkflowResponse } from "./promise/WorkflowResponse.js"
/** @since 0.1.0 */
export { WorkflowEventStream, WorkflowService } from "./promise/WorkflowService.js"
/** @since 0.1.0 */
export type {
  StartWorkflowOptions,
  WorkflowExecutionHandle,
  WorkflowInfo,
  WorkflowModule,
  WorkflowServiceOptions
} from "./promise/WorkflowService.js"
/** @since 0.2.0 */
export type { WorkflowLogger, WorkflowLogLevel } from "./promise/WorkflowService.js"
