/**
 * The dashboard's page and style: a shell the script fills in. Served with a content security policy
 * that allows only this origin's script and style, so that nothing a workflow emitted can run as code
 * even if it ended up in the page as markup (the script only ever writes text).
 */

export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>token-ring workflow</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header><a href="#/" id="home">token-ring workflow</a><span id="connection"></span>
<a class="api" href="/api/openapi.json">API (OpenAPI)</a></header>
<div id="token" hidden>
  <label>API token <input id="token-input" type="password" autocomplete="off"></label>
  <button id="token-save" type="button">Use</button>
</div>
<p id="problem" role="alert" hidden></p>
<main id="main"></main>
</body>
</html>
`

export const css = `
:root { color-scheme: light dark; --muted: #888; --ok: #2a7; --bad: #d44; --wait: #c80; --run: #27c; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; border-bottom: 1px solid #8884; }
header a { font-weight: 600; text-decoration: none; color: inherit; }
header a.api { margin-left: auto; font-weight: 400; font-size: 12px; }
#connection { color: var(--muted); font-size: 12px; }
main, #token, #problem { padding: 0 1em; }
#problem { color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #8882; white-space: nowrap; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #8881; }
.status { font-weight: 600; }
.completed { color: var(--ok); } .failed, .cancelled { color: var(--bad); }
.waiting { color: var(--wait); } .running, .created { color: var(--run); }
.filters, form.start { display: flex; gap: 1em; margin: .8em 0; align-items: flex-start; }
pre { background: #8881; padding: .5em; overflow: auto; max-height: 16em; white-space: pre-wrap; }
ol.timeline { list-style: none; padding: 0; font-family: ui-monospace, monospace; font-size: 13px; }
ol.timeline li { padding: .15em 0; border-bottom: 1px dotted #8883; }
ol.timeline .seq { color: var(--muted); display: inline-block; width: 3.5em; }
ol.timeline .warn { color: var(--wait); } ol.timeline .error { color: var(--bad); }
.actions form, .actions > div { margin: .6em 0; display: flex; gap: .5em; flex-wrap: wrap; align-items: flex-start; }
textarea { min-width: 20em; min-height: 3em; font: inherit; }
.muted { color: var(--muted); }
`
