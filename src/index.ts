/**
 * `@token-ring/workflow`: durable, observable workflows on Effect, with two
 * front doors over one engine: the Effect modules (as namespaces) and the
 * Promise API (as classes and functions).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Analyzer from "./Analyzer.js"
export * as ChatAdapter from "./ChatAdapter.js"
/** @since 0.2.0 */
export * as ChatRender from "./ChatRender.js"
/** @since 0.2.0 */
export * as CommandLine from "./CommandLine.js"
export * as Commands from "./Commands.js"
export * as ExecutionStorage from "./ExecutionStorage.js"
/** @since 0.1.0 */
export * as Flow from "./Flow.js"
export * as Models from "./Models.js"
export * as Plan from "./Plan.js"
export * as Planner from "./Planner.js"
export * as Planning from "./Planning.js"
export * as ScriptedModel from "./ScriptedModel.js"
export * as TaskExecutor from "./TaskExecutor.js"
/** @since 0.1.0 */
export * as Workflow from "./Workflow.js"
/** @since 0.1.0 */
export * as WorkflowEngine from "./WorkflowEngine.js"
/** @since 0.1.0 */
export * as WorkflowEvent from "./WorkflowEvent.js"

/** @since 0.1.0 */
export type * as workflowEvents from "./promise/events.js"
/** @since 0.1.0 */
export { chatCommands, ChatService } from "./promise/chatCommands.js"
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
