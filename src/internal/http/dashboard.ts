/**
 * The dashboard's place: `/` on the standalone server. Its static assets come in a later part; until
 * then a page that says where the API is.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>token-ring workflow</title></head>
<body>
<h1>token-ring workflow</h1>
<p>The dashboard is not built yet. The HTTP API is under <code>/api</code>;
its OpenAPI document is <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body>
</html>
`

/** The dashboard's routes. */
export const layer = HttpLayerRouter.add("GET", "/", HttpServerResponse.html(page))
