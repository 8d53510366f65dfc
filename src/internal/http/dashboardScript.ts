/**
 * The dashboard's script, as the browser runs it (plain ES2020, no build step, a few kB). Everything it
 * shows of an execution goes in as text (`textContent`, text nodes), never as markup. It follows an
 * execution with the API's event stream, read with `fetch` (so that a token goes in a header, which
 * `EventSource` cannot send) and resumed after a drop with `Last-Event-ID`.
 */

export const script = String.raw`"use strict";
(function () {
  var main = document.getElementById("main");
  var problem = document.getElementById("problem");
  var connection = document.getElementById("connection");
  var token = sessionStorage.getItem("token") || "";
  var stopView = function () {};

  /** An element with attributes (class, listeners on*, others as attributes) and children as text. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function say(message) {
    problem.hidden = message === undefined;
    problem.textContent = message || "";
  }

  function askToken() {
    document.getElementById("token").hidden = false;
  }

  document.getElementById("token-save").addEventListener("click", function () {
    token = document.getElementById("token-input").value;
    sessionStorage.setItem("token", token);
    document.getElementById("token").hidden = true;
    route();
  });

  function headers(json) {
    var result = {};
    if (json) result["content-type"] = "application/json";
    if (token) result.authorization = "Bearer " + token;
    return result;
  }

  /** A call to the API: its JSON answer, or an error with the API's message. */
  function api(path, method, body) {
    var init = { method: method || "GET", headers: headers(body !== undefined) };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch("/api" + path, init).then(function (response) {
      if (response.status === 401) askToken();
      if (response.status === 204) return undefined;
      return response.json().catch(function () { return undefined; }).then(function (json) {
        if (!response.ok) throw new Error((json && json.message) || response.status + " " + response.statusText);
        return json;
      });
    });
  }

  function ago(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" : s < 86400 ? Math.floor(s / 3600) + "h" : Math.floor(s / 86400) + "d";
  }

  var finished = { completed: true, failed: true, cancelled: true };
  function duration(record) {
    return ago((finished[record.status] ? record.updatedAt : Date.now()) - record.createdAt);
  }

  // ---- The executions table ----
  function listView() {
    var status = el("select", { id: "filter-status" }, el("option", { value: "" }, "any status"));
    ["created", "running", "waiting", "completed", "failed", "cancelled"].forEach(function (s) {
      status.append(el("option", { value: s }, s));
    });
    var workflow = el("select", { id: "filter-workflow" }, el("option", { value: "" }, "any workflow"));
    var body = el("tbody");
    // Starting a run: a registered workflow and its input as JSON; its page opens once it is created.
    var startWorkflow = el("select", { id: "start-workflow" });
    var startInput = el("textarea", { id: "start-input", placeholder: "input (JSON)" });
    var startForm = el("form", { class: "start", onsubmit: function (e) {
      e.preventDefault();
      var input;
      try { input = startInput.value.trim() === "" ? undefined : JSON.parse(startInput.value); } catch (error) { say("The input is not JSON: " + error.message); return; }
      var request = { workflow: startWorkflow.value };
      if (input !== undefined) request.input = input;
      api("/executions", "POST", request).then(function (started) {
        location.hash = "#/executions/" + encodeURIComponent(started.id);
      }).catch(function (error) { say(error.message); });
    } }, startWorkflow, startInput, el("button", { id: "start", type: "submit" }, "Start"));
    main.replaceChildren(
      startForm,
      el("div", { class: "filters" }, status, workflow),
      el("table", { id: "executions" },
        el("thead", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "workflow"), el("th", {}, "execution"), el("th", {}, "age"), el("th", {}, "duration"))),
        body));
    api("/workflows").then(function (list) {
      list.forEach(function (w) {
        workflow.append(el("option", { value: w.name }, w.name));
        startWorkflow.append(el("option", { value: w.name }, w.name));
      });
    }).catch(function (error) { say(error.message); });
    var timer;
    var live = true;
    function refresh() {
      var query = [];
      if (status.value) query.push("status=" + encodeURIComponent(status.value));
      if (workflow.value) query.push("workflow=" + encodeURIComponent(workflow.value));
      query.push("limit=100");
      api("/executions?" + query.join("&")).then(function (page) {
        say(undefined);
        body.replaceChildren.apply(body, page.executions.map(function (r) {
          return el("tr", { "data-id": r.id, onclick: function () { location.hash = "#/executions/" + encodeURIComponent(r.id); } },
            el("td", { class: "status " + r.status }, r.status),
            el("td", {}, r.workflow),
            el("td", {}, el("a", { href: "#/executions/" + encodeURIComponent(r.id) }, r.id)),
            el("td", {}, ago(Date.now() - r.createdAt)),
            el("td", {}, duration(r)));
        }));
      }).catch(function (error) { say(error.message); }).then(function () {
        if (live) timer = setTimeout(refresh, 1000);
      });
    }
    status.addEventListener("change", function () { clearTimeout(timer); refresh(); });
    workflow.addEventListener("change", function () { clearTimeout(timer); refresh(); });
    refresh();
    return function () { live = false; clearTimeout(timer); };
  }

  // ---- One execution ----
  /** One event as a line of the timeline: its kind of line and its text. */
  function line(event) {
    var name = event.runnableName || "step";
    switch (event.type) {
      case "step_start": return ["", "\u25b6 " + name];
      case "step_end":
        var took = event.durationMs !== undefined ? " " + Math.round(event.durationMs) + " ms" : "";
        return event.error !== undefined ? ["error", "\u2717 " + name + took + ": " + show(event.error.message || event.error)] : ["", "\u2713 " + name + took];
      case "log": return [event.level === "error" ? "error" : event.level === "warn" ? "warn" : "", "[" + event.level + "] " + event.message];
      case "output_chunk": return ["", "\u2026 " + show(event.data)];
      case "human_approval_required": return ["warn", "? " + (event.message || "Approval needed for " + event.taskId) + (event.choices ? " [" + event.choices.join("|") + "]" : "")];
      case "human_approval_completed": return ["", "Approval " + event.taskId + ": " + event.status + (event.feedback ? ": " + event.feedback : "")];
      case "wait_started":
        var until = event.wakeAt !== undefined ? " until " + new Date(event.wakeAt).toISOString() : "";
        return ["warn", event.wait === "sleep" ? "\u23f8 sleeping" + until : event.wait === "child" ? "\u23f8 waiting for child " + event.name : "\u23f8 waiting for signal " + event.name + until];
      case "wait_ended": return ["", event.timedOut ? "\u23f5 no signal " + event.name + " in time" : "\u23f5 " + (event.wait === "sleep" ? "woke up" : event.wait + " " + (event.name || "") + " ended")];
      case "signal_received": return ["", "\u2709 signal " + event.name];
      case "child_started": return ["", "\u2937 child " + event.executionId + " (" + event.workflow + ")"];
      case "final_output": return ["", "Output: " + show(event.data)];
      case "workflow_error": return ["error", "Error: " + event.error.name + ": " + event.error.message];
      default: return ["", event.type];
    }
  }

  /** Reads the execution's live events from after seq from, calling onEvent; resumes after a drop. */
  function follow(id, from, onEvent) {
    var stopped = false;
    var controller;
    var last = from;
    var delay = 1000;
    function connect() {
      if (stopped) return;
      controller = new AbortController();
      var h = headers(false);
      if (last > 0) h["last-event-id"] = String(last);
      fetch("/api/executions/" + encodeURIComponent(id) + "/events/live", { headers: h, signal: controller.signal })
        .then(function (response) {
          if (!response.ok) throw new Error("the event stream answered " + response.status);
          connection.textContent = "live";
          delay = 1000;
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) return "ended";
              buffer += decoder.decode(chunk.value, { stream: true });
              var frames = buffer.split("\n\n");
              buffer = frames.pop();
              var over = false;
              frames.forEach(function (frame) {
                var data = [];
                var kind = "message";
                frame.split("\n").forEach(function (field) {
                  if (field.slice(0, 5) === "data:") data.push(field.slice(field.charAt(5) === " " ? 6 : 5));
                  else if (field.slice(0, 6) === "event:") kind = field.slice(6).trim();
                });
                if (over || data.length === 0) return;
                // The run ended: nothing more will come. A failure of the stream is said, and it is read again.
                if (kind === "end") { over = true; return; }
                var value;
                try { value = JSON.parse(data.join("\n")); } catch (error) { value = undefined; }
                if (kind === "error" || value === undefined || typeof value.seq !== "number") {
                  say("The event stream failed: " + ((value && value.message) || "an unreadable event"));
                  throw new Error("the event stream failed");
                }
                if (value.seq <= last) return;
                last = value.seq;
                onEvent(value);
              });
              return over ? "ended" : pump();
            });
          }
          return pump();
        })
        .then(function (how) { connection.textContent = how === "ended" ? "" : connection.textContent; })
        .catch(function () {
          if (stopped) return;
          connection.textContent = "reconnecting\u2026";
          // A second, then two, four... up to half a minute: a refused stream is not asked again every second.
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 30000);
        });
    }
    connect();
    return function () { stopped = true; if (controller) controller.abort(); };
  }

  function executionView(id) {
    var title = el("h2", {}, "execution " + id);
    var facts = el("p", { class: "muted" });
    var actions = el("div", { class: "actions", id: "actions" });
    var input = el("pre", { id: "input" });
    var output = el("pre", { id: "output" });
    var timeline = el("ol", { class: "timeline", id: "timeline" });
    main.replaceChildren(el("p", {}, el("a", { href: "#/" }, "\u2190 executions")), title, facts, actions,
      el("h3", {}, "Timeline"), timeline, el("h3", {}, "Input"), input, el("h3", {}, "Output or error"), output);
    var timer;
    var shownState;
    function refresh() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        api("/executions/" + encodeURIComponent(id)).then(render).catch(function (error) { say(error.message); });
      }, 50);
    }
    function act(path, body) {
      return function (e) {
        if (e) e.preventDefault();
        api("/executions/" + encodeURIComponent(id) + path, "POST", body === undefined ? undefined : body())
          .then(function () { say(undefined); refresh(); })
          .catch(function (error) { say(error.message); });
      };
    }
    function render(record) {
      title.replaceChildren(record.workflow + " ", el("span", { class: "status " + record.status, id: "status" }, record.status));
      facts.textContent = record.id + " \u00b7 started " + new Date(record.createdAt).toISOString() + " \u00b7 " + duration(record) +
        (record.parent ? " \u00b7 child of " + record.parent : "");
      input.textContent = show(record.input);
      output.textContent = record.error !== undefined ? show(record.error) : record.output !== undefined ? show(record.output) : "";
      var waiting = record.status === "waiting" ? record.waitingFor || "" : "";
      // Rebuilt only when what can be done changes: a live update must not wipe what is being typed.
      var state = record.status + "/" + waiting;
      if (state === shownState) return;
      shownState = state;
      var parts = [];
      if (waiting.slice(0, 9) === "approval:") {
        var task = waiting.slice(9);
        var feedback = el("textarea", { id: "feedback", placeholder: "feedback (optional)" });
        var answer = function (status) {
          return act("/approvals/" + encodeURIComponent(task), function () {
            return feedback.value ? { status: status, feedback: feedback.value } : { status: status };
          });
        };
        parts.push(el("div", {}, el("strong", {}, "Approval " + task), feedback,
          el("button", { id: "approve", type: "button", onclick: answer("approved") }, "Approve"),
          el("button", { id: "reject", type: "button", onclick: answer("rejected") }, "Reject")));
      }
      if (!finished[record.status]) {
        var named = waiting.slice(0, 7) === "signal:" && waiting.slice(7, 13) !== "child:" ? waiting.slice(7) : "";
        var name = el("input", { id: "signal-name", placeholder: "signal", value: named });
        var payload = el("textarea", { id: "signal-payload", placeholder: "payload (JSON)" });
        parts.push(el("form", { onsubmit: function (e) {
          e.preventDefault();
          var value;
          try { value = payload.value.trim() === "" ? null : JSON.parse(payload.value); } catch (error) { say("The payload is not JSON: " + error.message); return; }
          act("/signals/" + encodeURIComponent(name.value), function () { return { payload: value }; })();
        } }, name, payload, el("button", { id: "signal", type: "submit" }, "Send signal")));
        parts.push(el("div", {},
          el("button", { id: "cancel", type: "button", onclick: act("/cancel") }, "Cancel"),
          el("button", { id: "resume", type: "button", onclick: act("/resume") }, "Resume")));
      }
      actions.replaceChildren.apply(actions, parts);
    }
    api("/executions/" + encodeURIComponent(id)).then(render).catch(function (error) { say(error.message); });
    var steps = {};
    var stop = follow(id, 0, function (event) {
      var kind = line(event);
      var text = kind[1];
      if (event.type === "step_start") {
        var name = event.runnableName || "step";
        if (steps[name] === "failed") text = "\u21bb retry " + name;
        steps[name] = "running";
      } else if (event.type === "step_end") {
        steps[event.runnableName || "step"] = event.error !== undefined ? "failed" : "done";
      }
      var item = el("li", { class: kind[0], "data-type": event.type }, el("span", { class: "seq" }, event.seq), text);
      if (event.type === "child_started") {
        item.append(" ", el("a", { href: "#/executions/" + encodeURIComponent(event.executionId) }, "open"));
      }
      timeline.append(item);
      refresh();
    });
    return function () { stop(); clearTimeout(timer); connection.textContent = ""; };
  }

  function route() {
    stopView();
    say(undefined);
    var match = /^#\/executions\/(.+)$/.exec(location.hash);
    stopView = match ? executionView(decodeURIComponent(match[1])) : listView();
  }

  window.addEventListener("hashchange", route);
  route();
})();
`
