/**
 * The Tag of what a workflow body may know of its execution. The `Workflow`
 * module re-exports it.
 */
import * as Context from "effect/Context"
import type { ExecutionInfo } from "../Workflow.js"

/**
 * The execution a workflow body runs in. Available inside `run` as a service:
 * `const { executionId } = yield* Workflow.ExecutionContext`.
 */
export class ExecutionContext extends Context.Tag("@token-ring/workflow/ExecutionContext")<
  ExecutionContext,
  ExecutionInfo
>() {}
