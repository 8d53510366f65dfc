/**
 * Where a value read from user text could reach a prototype. A key named
 * `__proto__` is plain data in what `JSON.parse` and `Object.fromEntries`
 * build, but not further on: assigning it (`o[key] = v`, as a naive parser
 * or Effect Schema's `Record` decoding does) sets the object's prototype,
 * and every key of that value becomes a hidden, inherited field. So input
 * read from a chat or a command line may not hold one.
 */

/** A node of the walk, with the way back to the root for the path. */
interface Node {
  readonly value: unknown
  readonly key: string
  readonly parent: Node | undefined
}

const pathOf = (node: Node): string => {
  const keys: Array<string> = []
  for (let at: Node | undefined = node; at?.parent !== undefined; at = at.parent) keys.push(at.key)
  return keys.length === 0 ? "(root)" : keys.reverse().join(".")
}

/** An object whose prototype is itself a plain object: what assigning `__proto__` leaves behind. */
const prototypeReplaced = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto !== null && proto !== Object.prototype && proto !== Array.prototype &&
    Object.getPrototypeOf(proto) === Object.prototype
}

/**
 * The path of the first `__proto__` key in `value`, or of an object whose
 * prototype was set from data (by a parser that assigned such a key);
 * `undefined` when there is none. Iterative, so deep input cannot overflow
 * the stack, and linear in the size of the value.
 */
export const prototypeKeyPath = (value: unknown): string | undefined => {
  const pending: Array<Node> = [{ value, key: "", parent: undefined }]
  const seen = new Set<object>()
  while (pending.length > 0) {
    const node = pending.pop()!
    if (typeof node.value !== "object" || node.value === null || seen.has(node.value)) continue
    seen.add(node.value)
    if (prototypeReplaced(node.value)) return pathOf(node)
    for (const key of Object.keys(node.value)) {
      const child: Node = { value: (node.value as Record<string, unknown>)[key], key, parent: node }
      if (key === "__proto__") return pathOf(child)
      pending.push(child)
    }
  }
  return undefined
}

/** Why input holding a prototype key at `path` is refused, for an error message. */
export const prototypeKeyReason = (path: string): string =>
  `"__proto__" cannot be a key (at ${path}): decoding would make it an object's prototype`
