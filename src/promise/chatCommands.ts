/**
 * The chat commands for a Token Ring chat: `chatCommands = { workflow, plan,
 * apply, analyze }`, each `{ description, help(), execute(remainder,
 * registry) }`. They find the `WorkflowService` and the chat service in the
 * registry, as Token Ring's chat does, and run the Effect commands of
 * `Commands` through the service's engine.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import type { ChatCommand, Registry } from "./Registry.js"
import { Service } from "./Registry.js"
import { WorkflowService } from "./WorkflowService.js"

/**
 * Where command output goes: the shape of Token Ring's ChatService. This one
 * writes to the console; subclass it, or register any service with the same
 * three methods.
 *
 * @since 0.1.0
 * @category services
 */
export class ChatService extends Service {
  override name = "ChatService"
  override description = "Writes chat output to the console"
  systemLine(line: string): void | Promise<void> {
    console.log(line)
  }
  warningLine(line: string): void | Promise<void> {
    console.warn(line)
  }
  errorLine(line: string): void | Promise<void> {
    console.error(line)
  }
}

type ChatLike = Pick<ChatService, "systemLine" | "warningLine" | "errorLine">

const isChatLike = <S>(service: S): service is S & ChatLike =>
  typeof service === "object" && service !== null &&
  ["systemLine", "warningLine", "errorLine"].every((method) => typeof (service as any)[method] === "function")

/** The registry's chat service: a `ChatService`, else any service with its three methods, else the console. */
const chatOf = (registry: Registry): ChatAdapter.ChatAdapterService => {
  const chat: ChatLike = registry.getFirstServiceByType(ChatService) ??
    registry.services.getServices().find(isChatLike) ??
    new ChatService()
  const write = (method: keyof ChatLike) => (line: string) => Effect.promise(async () => chat[method](line))
  return { systemLine: write("systemLine"), warningLine: write("warningLine"), errorLine: write("errorLine") }
}

const command = (name: Commands.Name): ChatCommand => ({
  description: Commands.info[name].description,
  help: () => Commands.info[name].usage,
  execute: (remainder: string, registry: Registry) =>
    registry.requireFirstServiceByType(WorkflowService).executeCommand(name, remainder ?? "", chatOf(registry))
})

/**
 * @since 0.1.0
 * @category commands
 */
export const chatCommands: Record<Commands.Name, ChatCommand> = {
  workflow: command("workflow"),
  plan: command("plan"),
  apply: command("apply"),
  analyze: command("analyze")
}
