// Kiln console: the browser half. Pages are rendered on the server; this script sends their forms
// to the API as JSON, checks policy documents as they are typed, and follows build logs.
// Calls are signed by the session cookie; the X-Kiln-Console header is what the API asks of
// cookie-signed calls that change something (a cross-site page cannot send it).

const CONSOLE_HEADER = { "x-kiln-console": "1" };

async function callApi(method, url, body) {
  const headers = { ...CONSOLE_HEADER, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  return { ok: res.ok, status: res.status, data };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat())
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** The API's refusal, readable: a denial names the action, the resource and why. */
function describeError(status, data) {
  if (!data || typeof data !== "object") return `The request failed (${status}).`;
  if (data.error === "AccessDenied" && data.action) {
    const why = data.decision === "ExplicitDeny" ? "a policy denies it" : "no policy allows it";
    return `You may not do ${data.action} on ${data.resource} (${why}).`;
  }
  return `${data.message || data.error} (${status} ${data.error})`;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys[keys.length - 1]] = value;
}

/** A form's fields as the JSON body the API expects. Throws with the field's label on bad input. */
function formBody(form) {
  const body = {};
  const raw = {};
  for (const field of form.elements)
    if (field.name) raw[field.name] = field.type === "checkbox" ? field.checked : field.value;
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.hasAttribute("data-omit")) continue;
    const kind = field.dataset.kind;
    let value = raw[field.name];
    if (field.dataset.template !== undefined) {
      const parts = [...field.dataset.template.matchAll(/\{([^}]+)\}/g)].map((m) => String(raw[m[1]] ?? ""));
      const whole = parts.find((p) => p.startsWith("acs:"));
      value = whole ?? field.dataset.template.replace(/\{([^}]+)\}/g, (_m, key) => String(raw[key] ?? ""));
    }
    if (kind === "bool") {
      setPath(body, field.name, Boolean(value));
      continue;
    }
    if (typeof value === "string" && value.trim() === "") {
      // An emptied list that means "none" (a rule's platforms) is sent as [] so that editing can clear it.
      if (kind === "list" && field.hasAttribute("data-clearable")) setPath(body, field.name, []);
      continue;
    }
    if (kind === "list")
      value = value
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean);
    else if (kind === "json") {
      try {
        value = JSON.parse(value);
      } catch (err) {
        throw new Error(`${field.name}: not valid JSON (${err.message})`);
      }
    } else if (kind === "map") {
      const map = {};
      for (const line of value
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean)) {
        const eq = line.indexOf("=");
        if (eq < 1) throw new Error(`${field.name}: "${line}" is not NAME=value`);
        map[line.slice(0, eq).trim()] = line.slice(eq + 1);
      }
      value = map;
    }
    setPath(body, field.name, value);
  }
  return body;
}

/** `/console/builds/{builds.0.id}` filled from the answer. */
function fillTemplate(template, data) {
  return template.replace(/\{([^}]+)\}/g, (_m, path) =>
    encodeURIComponent(path.split(".").reduce((v, k) => (v == null ? v : v[k]), data) ?? ""),
  );
}

/** "(tag /v(\d+)…/)" from the rules table on the page, so that a tester's answer reads on its own. */
function ruleSummary(id) {
  const cells = document.querySelector(`tr[data-rule="${id}"]`)?.querySelectorAll("td");
  return cells ? ` (${cells[1].textContent} ${cells[2].textContent})` : "";
}

const renderers = {
  binding(data) {
    const items = [
      el("p", {}, "Saved. Configure this webhook in the code repository:"),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "Webhook URL"),
        el("dd", {}, el("code", { "data-testid": "new-webhook-url" }, data.webhookUrl)),
      ),
    ];
    if (data.webhookSecret) {
      items.push(
        el(
          "dl",
          { class: "facts" },
          el("dt", {}, "Secret"),
          el("dd", {}, el("code", { "data-testid": "webhook-secret" }, data.webhookSecret)),
        ),
        el("p", { class: "notice" }, "The secret is shown only now. Copy it into the webhook's settings."),
      );
    }
    items.push(el("button", { type: "button", "data-reload": true }, "Done"));
    return items;
  },
  webhook(data) {
    return [
      el("p", {}, "Webhook added. Its secret signs every delivery (X-Kiln-Signature-256) and is shown only now:"),
      el("code", { class: "secret", "data-testid": "webhook-secret" }, data.secret),
      el("button", { type: "button", "data-reload": true }, "Done"),
    ];
  },
  "access-key"(data) {
    return [
      el("p", {}, "Access key created. It is shown only now:"),
      el("code", { class: "secret", "data-testid": "access-key" }, data.token),
    ];
  },
  "rule-test"(data) {
    if (!Array.isArray(data) || data.length === 0)
      return [el("p", { "data-testid": "rule-test-result" }, "No rule matches: nothing would be built.")];
    return [
      el(
        "ul",
        { class: "plain", "data-testid": "rule-test-result" },
        data.map((m) =>
          el(
            "li",
            { "data-rule-match": m.ruleId },
            `Rule ${m.ruleId}${ruleSummary(m.ruleId)} → `,
            m.tags.map((t) => el("code", { class: "tag" }, t)),
            m.refused.length ? el("span", { class: "muted" }, ` refused: ${m.refused.join("; ")}`) : "",
          ),
        ),
      ),
    ];
  },
  simulation(data) {
    const verdict =
      data.decision === "Allow"
        ? "Allowed"
        : data.decision === "ExplicitDeny"
          ? "Denied by a Deny statement"
          : "Denied: no statement allows it";
    const out = [
      el(
        "p",
        {
          class: `verdict verdict-${data.decision}`,
          "data-testid": "simulation-decision",
          "data-decision": data.decision,
        },
        `${verdict} (${data.decision})`,
      ),
    ];
    if (data.matched.length) {
      const list = el("ul", { class: "plain", "data-testid": "simulation-statements" });
      for (const m of data.matched) {
        const item = el(
          "li",
          {},
          `${m.effect} by Statement[${m.statement}]${m.sid ? ` (${m.sid})` : ""} of policy `,
          el("strong", {}, m.policy ?? "(inline)"),
        );
        list.append(item);
        if (m.policy) showStatement(item, m.policy, m.statement);
      }
      out.push(el("p", {}, "Deciding statements:"), list);
    }
    return out;
  },
};

async function showStatement(item, policyName, index) {
  const res = await callApi("GET", `/api/v1/policies/${encodeURIComponent(policyName)}`);
  const statement = res.ok ? res.data.document?.Statement?.[index] : undefined;
  if (statement) item.append(el("pre", { class: "json" }, JSON.stringify(statement, null, 2)));
}

/** The form's API path, `{name}` filled from the form's field of that name: `…/build-secrets/{id}`. */
function apiUrl(form) {
  return form.dataset.api.replace(/\{([^}]+)\}/g, (_m, name) => encodeURIComponent(form.elements[name]?.value ?? ""));
}

async function submitApiForm(form, event) {
  event.preventDefault();
  const output = form.querySelector("[data-output]");
  const button = form.querySelector("button[type=submit]");
  output.replaceChildren();
  output.classList.remove("error");
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  let body;
  try {
    body = formBody(form);
  } catch (err) {
    output.classList.add("error");
    output.textContent = err.message;
    return;
  }
  const method = form.dataset.method || "POST";
  button.disabled = true;
  try {
    const sendsBody = method !== "DELETE" && method !== "GET";
    const res = await callApi(method, apiUrl(form), sendsBody ? body : undefined);
    if (res.status === 401) {
      // The session ended (logout elsewhere, expiry): sign in again and come back here.
      window.location.assign(`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    if (!res.ok) {
      output.classList.add("error");
      output.setAttribute("role", "alert");
      output.textContent = describeError(res.status, res.data);
      return;
    }
    const then = form.dataset.then || "reload";
    if (then === "reload") window.location.reload();
    else if (then.startsWith("show:")) output.replaceChildren(...renderers[then.slice(5)](res.data));
    else window.location.assign(fillTemplate(then, res.data));
  } catch (err) {
    output.classList.add("error");
    output.textContent = `Kiln did not answer: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Checks the document as it is typed: JSON first, then the policy grammar on the server (one parser). */
function policyEditor(textarea) {
  const status = textarea.closest("form").querySelector("[data-editor-status]");
  let timer;
  let seq = 0;
  const check = async () => {
    const mine = ++seq;
    let doc;
    try {
      doc = JSON.parse(textarea.value);
    } catch (err) {
      status.className = "editor-status invalid";
      status.textContent = `Not valid JSON: ${err.message}`;
      return;
    }
    const res = await callApi("POST", "/api/v1/policies/validate", { document: doc });
    if (mine !== seq) return;
    if (!res.ok) {
      status.className = "editor-status invalid";
      status.textContent = describeError(res.status, res.data);
    } else if (res.data.valid) {
      status.className = "editor-status valid";
      status.textContent = `Valid policy, ${res.data.statements} statement${res.data.statements === 1 ? "" : "s"}.`;
    } else {
      status.className = "editor-status invalid";
      status.textContent = res.data.message;
    }
  };
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
  check();
}

/** Appends log lines as the server sends them; reloads once the build has ended, to show its outcome. */
function followLog(pre) {
  const id = pre.dataset.logFollow;
  let received = 0;
  let source;
  const open = () => {
    source = new EventSource(`/api/v1/builds/${encodeURIComponent(id)}/logs?follow=true&offset=${received}`);
    source.addEventListener("line", (e) => {
      received++;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(e.data + "\n");
      pre.dataset.lines = String(received);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener("end", (e) => {
      source.close();
      pre.dataset.ended = e.data;
      if (pre.dataset.active === "true") setTimeout(() => window.location.reload(), 300);
    });
    source.onerror = () => {
      // The stream restarts from the last line received, not from the top.
      source.close();
      setTimeout(open, 1000);
    };
  };
  open();
}

/** Keeps a running build's status badge and current stage up to date without reloading the log. */
function watchBuild(badge) {
  const id = badge.dataset.buildStatus;
  const timer = setInterval(async () => {
    const res = await callApi("GET", `/api/v1/builds/${encodeURIComponent(id)}`).catch(() => undefined);
    if (!res?.ok) return;
    const status = badge.querySelector("[data-status]");
    status.dataset.status = res.data.status;
    status.className = `status status-${res.data.status}`;
    status.textContent =
      res.data.stage && res.data.status === "running" ? `running: ${res.data.stage}` : res.data.status;
    for (const row of document.querySelectorAll("tr[data-stage]"))
      row.classList.toggle("current", row.dataset.stage === res.data.stage && res.data.status === "running");
    if (res.data.status !== "queued" && res.data.status !== "running") clearInterval(timer);
  }, 1500);
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-api]");
  if (form) submitApiForm(form, event);
});

document.addEventListener("click", async (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    await navigator.clipboard?.writeText(copy.dataset.copy).catch(() => {});
    copy.textContent = "Copied";
    setTimeout(() => (copy.textContent = "Copy"), 1200);
  }
  if (event.target.closest("[data-reload]")) window.location.reload();
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-navigate]");
  if (select) window.location.assign(select.value);
});

for (const textarea of document.querySelectorAll("[data-policy-editor]")) policyEditor(textarea);
for (const pre of document.querySelectorAll("[data-log-follow]")) followLog(pre);
for (const badge of document.querySelectorAll('[data-build-status][data-active="true"]')) watchBuild(badge);
