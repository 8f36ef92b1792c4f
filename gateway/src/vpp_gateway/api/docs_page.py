"""The documentation page at /api/v1/docs: one self-contained HTML file (inline CSS and JavaScript, nothing
fetched from a CDN) that renders /api/v1/openapi.json — operations by tag, parameters, bodies, responses with
their error codes, and every schema."""

DOCS_HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VPP Ledger API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#fafbfc}
header{background:#123;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h2{border-bottom:2px solid #dde3ea;padding-bottom:4px;margin-top:32px;text-transform:capitalize}
details{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
.m{font:600 12px monospace;padding:2px 8px;border-radius:4px;color:#fff;min-width:52px;text-align:center}
.get{background:#2b7bb9}.post{background:#2f9e44}.put{background:#d9822b}.delete{background:#c92a2a}.patch{background:#7048e8}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f3f5f7;padding:8px;overflow:auto;border-radius:4px}
.body{padding:4px 16px 12px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eef1f4;
padding:4px 6px;text-align:left;vertical-align:top}.muted{color:#66727f}.lock{color:#a61e4d;font-size:12px}
a{color:#1864ab}
</style>
</head>
<body>
<header><h1 id="title">VPP Ledger API</h1><div id="subtitle" class="muted"></div></header>
<main id="main"><p>Loading <a href="openapi.json">openapi.json</a>…</p></main>
<script>
"use strict";
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const refName = (schema) => schema && schema.$ref ? schema.$ref.split("/").pop() : null;
const schemaLink = (schema) => {
  const name = refName(schema);
  return name ? el("a", {href: "#schema-" + name}, name) : el("code", {}, JSON.stringify(schema));
};
function render(doc) {
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("subtitle").textContent = doc.info.description || "";
  const main = document.getElementById("main");
  main.replaceChildren();
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      (byTag[(op.tags || ["other"])[0]] ||= []).push([path, method, op]);
    }
  }
  for (const tag of Object.keys(byTag).sort()) {
    main.append(el("h2", {}, tag));
    for (const [path, method, op] of byTag[tag]) {
      const body = el("div", {class: "body"});
      if (op["x-roles"]) body.append(el("p", {class: "lock"}, "roles: " + op["x-roles"].join(", ")));
      if (!op.security || op.security.length === 0) body.append(el("p", {class: "muted"}, "no authentication"));
      if (op.parameters && op.parameters.length) {
        const rows = op.parameters.map(p => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
          el("td", {}, p.required ? "required" : ""), el("td", {}, p.description || ""),
          el("td", {}, el("code", {}, JSON.stringify(p.schema)))));
        body.append(el("h4", {}, "Parameters"), el("table", {}, ...rows));
      }
      if (op.requestBody) {
        body.append(el("h4", {}, "Body"), schemaLink(op.requestBody.content["application/json"].schema));
      }
      const rows = Object.entries(op.responses).map(([status, r]) => el("tr", {}, el("td", {}, status),
        el("td", {}, r.description), el("td", {}, ...Object.entries(r.content || {}).map(([media, c]) =>
          el("div", {}, media + " ", c.schema ? schemaLink(c.schema) : "")))));
      body.append(el("h4", {}, "Responses"), el("table", {}, ...rows));
      main.append(el("details", {id: op.operationId}, el("summary", {}, el("span", {class: "m " + method},
        method.toUpperCase()), el("code", {}, path), el("span", {class: "muted"}, op.summary)), body));
    }
  }
  main.append(el("h2", {}, "errors"));
  main.append(el("table", {}, ...Object.entries(doc["x-error-table"] || {}).map(([code, status]) =>
    el("tr", {}, el("td", {}, el("code", {}, code)), el("td", {}, status)))));
  main.append(el("h2", {}, "schemas"));
  for (const [name, schema] of Object.entries(doc.components.schemas).sort()) {
    main.append(el("details", {id: "schema-" + name}, el("summary", {}, el("code", {}, name)),
      el("div", {class: "body"}, el("pre", {}, JSON.stringify(schema, null, 2)))));
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.setAttribute("open", "");
}
fetch("openapi.json").then(r => r.json()).then(render).catch(e => {
  document.getElementById("main").textContent = "Cannot load openapi.json: " + e;
});
</script>
</body>
</html>
"""
