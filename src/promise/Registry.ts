/**
 * A small service registry in the shape Token Ring's `@token-ring/registry`
 * gives its packages (that package is not published): services looked up by
 * class, chat commands by name, packages that bring both.
 *
 * @since 0.1.0
 */

/**
 * A long-lived service. `start` is called with the registry once it is added.
 *
 * @since 0.1.0
 * @category models
 */
export class Service {
  name = "Service"
  description = ""
  async start(_registry: Registry): Promise<void> {}
  async stop(_registry: Registry): Promise<void> {}
}

/**
 * A class of services, for lookups by type.
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceClass<S> = abstract new(...args: Array<any>) => S

/**
 * @since 0.1.0
 * @category registries
 */
export class ServiceRegistry {
  private readonly services: Array<Service> = []

  constructor(private readonly registry: Registry) {}

  /** Adds services and starts each of them. */
  async register(...services: Array<Service>): Promise<void> {
    for (const service of services) {
      this.services.push(service)
      await service.start(this.registry)
    }
  }

  /** An alias of `register`. */
  addServices(...services: Array<Service>): Promise<void> {
    return this.register(...services)
  }

  getServices(): ReadonlyArray<Service> {
    return [...this.services]
  }

  getServicesByType<S>(type: ServiceClass<S>): Array<S> {
    return this.services.filter((service): service is Service & S => service instanceof type)
  }

  getFirstServiceByType<S>(type: ServiceClass<S>): S | undefined {
    return this.getServicesByType(type)[0]
  }

  /** Like `getFirstServiceByType`, but throws an error naming the type when there is none. */
  requireFirstServiceByType<S>(type: ServiceClass<S>): S {
    const service = this.getFirstServiceByType(type)
    if (service === undefined) {
      throw new Error(`No service of type ${type.name} is registered`)
    }
    return service
  }
}

/**
 * A chat command, as Token Ring's chat calls it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCommand {
  readonly description: string
  help(): string | ReadonlyArray<string>
  execute(remainder: string, registry: Registry): Promise<unknown> | unknown
}

/**
 * @since 0.1.0
 * @category registries
 */
export class ChatCommandRegistry {
  private readonly commands = new Map<string, ChatCommand>()

  register(name: string, command: ChatCommand): void {
    this.commands.set(name, command)
  }

  addCommands(commands: Record<string, ChatCommand>): void {
    for (const [name, command] of Object.entries(commands)) this.register(name, command)
  }

  get(name: string): ChatCommand | undefined {
    return this.commands.get(name)
  }

  getCommands(): Record<string, ChatCommand> {
    return Object.fromEntries(this.commands)
  }
}

/**
 * A package that brings services and chat commands.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenRingPackage {
  readonly name: string
  readonly version?: string
  readonly description?: string
  readonly services?: ReadonlyArray<Service>
  readonly chatCommands?: Record<string, ChatCommand>
}

/**
 * @since 0.1.0
 * @category registries
 */
export class Registry {
  readonly services: ServiceRegistry = new ServiceRegistry(this)
  readonly chatCommands: ChatCommandRegistry = new ChatCommandRegistry()
  private readonly packages: Array<TokenRingPackage> = []

  /** Adds packages: their chat commands are registered and their services started. */
  async addPackages(...packages: Array<TokenRingPackage | ReadonlyArray<TokenRingPackage>>): Promise<void> {
    for (const pkg of packages.flat()) {
      this.packages.push(pkg)
      if (pkg.chatCommands !== undefined) this.chatCommands.addCommands(pkg.chatCommands)
      if (pkg.services !== undefined) await this.services.register(...pkg.services)
    }
  }

  getPackages(): ReadonlyArray<TokenRingPackage> {
    return [...this.packages]
  }

  requireFirstServiceByType<S>(type: ServiceClass<S>): S {
    return this.services.requireFirstServiceByType(type)
  }

  getFirstServiceByType<S>(type: ServiceClass<S>): S | undefined {
    return this.services.getFirstServiceByType(type)
  }
}
