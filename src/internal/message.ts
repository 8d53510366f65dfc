/**
 * The one-line text of anything thrown or failed with: an Error's (or a
 * tagged error's) message, a string as it is, anything else as JSON.
 *
 * @internal
 */
export const messageOf = (error: unknown): string => {
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
