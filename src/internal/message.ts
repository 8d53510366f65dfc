/**
 * Text for one chat line.
 */

/** A value as text: a string as it is, anything else as JSON. */
export const show = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** What failed, in one line: an Error's (or a tagged error's) message, else the value as text. */
export const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : show(error)
