/**
 * Who may call the API: the token check and the checks that keep other web pages out. A browser lets a
 * page of another origin send a request it cannot read the answer of; what that request may change is
 * what these checks are about (see "The HTTP API" in docs/design.md).
 */
import { createHash, timingSafeEqual } from "node:crypto"

/** The names a loopback server answers to: anything else in `Host` is a DNS rebinding. */
const loopbackNames = new Set(["127.0.0.1", "localhost", "::1", "[::1]"])

/** Whether binding `host` keeps the server on this machine. */
export const isLoopback = (host: string): boolean => loopbackNames.has(host) || /^127(?:\.\d{1,3}){3}$/.test(host)

/**
 * Compares a presented token with the expected one in time that does not depend on where they differ:
 * both are hashed first, so the compared buffers have the same length whatever was sent.
 */
export const sameToken = (presented: string, expected: string): boolean =>
  timingSafeEqual(digest(presented), digest(expected))

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** The host name of a `Host` header (`name:port`, `[v6]:port`), lower-cased. */
export const hostName = (header: string): string => {
  const lower = header.trim().toLowerCase()
  if (lower.startsWith("[")) {
    const end = lower.indexOf("]")
    return end < 0 ? lower : lower.slice(0, end + 1)
  }
  const colon = lower.lastIndexOf(":")
  return colon < 0 ? lower : lower.slice(0, colon)
}

/**
 * What is wrong with where a request says it comes from, or `undefined`: an `Origin` (sent by browsers
 * on cross-origin requests and on every POST) must name the host the request was sent to; without a
 * token, that host must be a loopback name, so a page whose DNS name is rebound to 127.0.0.1 is refused.
 */
export const refusedOrigin = (
  headers: { readonly host?: string | undefined; readonly origin?: string | undefined },
  options: { readonly tokenRequired: boolean }
): { readonly header: string; readonly value: string } | undefined => {
  const host = headers.host ?? ""
  if (!options.tokenRequired && !isLoopback(hostName(host))) return { header: "Host", value: host }
  if (headers.origin === undefined) return undefined
  let originHost: string
  try {
    originHost = new URL(headers.origin).host.toLowerCase()
  } catch {
    return { header: "Origin", value: headers.origin }
  }
  return originHost === host.trim().toLowerCase() ? undefined : { header: "Origin", value: headers.origin }
}
