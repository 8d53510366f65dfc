/**
 * The dashboard: a page, its style and its script, served at `/` by the standalone server, from this
 * package (no CDN: it works offline). The page may run only its own script and style (a content security
 * policy), and is never framed.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Layer from "effect/Layer"
import { css, html } from "./dashboardPage.js"
import { script } from "./dashboardScript.js"

const headers = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache"
}

const asset = (body: string, contentType: string) => HttpServerResponse.text(body, { contentType, headers })

/** The dashboard's routes. */
export const layer = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/", asset(html, "text/html; charset=utf-8")),
  HttpLayerRouter.add("GET", "/assets/dashboard.js", asset(script, "text/javascript; charset=utf-8")),
  HttpLayerRouter.add("GET", "/assets/dashboard.css", asset(css, "text/css; charset=utf-8"))
)
