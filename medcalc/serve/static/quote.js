// The quote page: choose a region and a date, then what that policy declares; POST /quote; show
// the table `medcalc quote` prints (the answer's `view`) and, on request, every step with its
// policy sentence. Policy text is only ever set as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { policy: null, timer: null, lookup: 0 };
const CLAIM_FIELDS = ["settled_on", "level", "place", "referral", "category", "age", "total", "self_funded",
  "over_limit", "pre_self_pay", "in_scope"];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function option(value, text) {
  const node = element("option", null, text);
  node.value = value;
  return node;
}

// Replace a select's options, keeping its value when the new options still have it.
function fill(select, items) {
  const before = select.value;
  select.replaceChildren(...items.map(([value, text]) => option(value, text)));
  if (items.some(([value]) => value === before)) select.value = before;
}

async function getJSON(url, init) {
  const answer = await fetch(url, init);
  let body = null;
  try {
    body = await answer.json();
  } catch (_) {
    body = { error: `${answer.status} ${answer.statusText}` };
  }
  return { ok: answer.ok, status: answer.status, body };
}

// ------------------------------------------------------------------ policies and their choices

async function loadPolicies() {
  const { ok, body } = await getJSON("/policies");
  if (!ok) return;
  const names = new Map();
  for (const p of body) {
    for (const name of [p.region, ...p.aliases, p.id]) {
      if (!names.has(name)) names.set(name, `${p.region} · ${p.id}`);
    }
  }
  $("regions").replaceChildren(...[...names].map(([name, label]) => {
    const node = option(name, label);
    node.label = label;
    return node;
  }));
  const tiers = [...new Set(body.map((p) => p.tier).filter(Boolean))];
  fill($("tier"), [["", "自动 any"], ...tiers.map((t) => [t, t])]);
}

function scheduleLookup() {
  clearTimeout(state.timer);
  state.timer = setTimeout(lookupPolicy, 250);
}

async function lookupPolicy() {
  const region = $("region").value.trim();
  const day = $("settled_on").value.trim();
  const lookup = ++state.lookup;
  if (!region || !day) {
    state.policy = null;
    return;
  }
  const query = new URLSearchParams();
  if ($("scheme").value) query.set("scheme", $("scheme").value);
  if ($("tier").value) query.set("tier", $("tier").value);
  const { ok, body } = await getJSON(`/regions/${encodeURIComponent(region)}/on/${encodeURIComponent(day)}?${query}`);
  if (lookup !== state.lookup) return; // a later lookup has started
  const line = $("policy-line");
  line.classList.toggle("problem", !ok);
  if (!ok) {
    state.policy = null;
    line.textContent = body.error;
    if (/several policies/.test(body.error)) line.append(element("b", null, " → 请选择险种或档次 choose the scheme or tier"));
    return;
  }
  state.policy = body;
  const scheme = body.scheme === "employees" ? "职工 employees" : "城乡居民 residents";
  line.replaceChildren(
    element("span", "tag", "政策 policy"), element("b", null, body.id),
    document.createTextNode(` · ${body.region} · ${scheme}${body.tier ? " · " + body.tier : ""}`),
    body.inpatient ? document.createTextNode("") : element("span", "muted", " · 当日无住院规则 no inpatient rules that day"));
  fillChoices(body);
}

function fillChoices(policy) {
  const labelled = (items) => items.map((c) => [c.code, `${c.label} ${c.code}`]);
  fill($("place"), labelled(policy.choices.place));
  fill($("referral"), labelled(policy.choices.referral));
  fill($("category"), labelled(policy.choices.category));
  const visits = [];
  if (policy.inpatient) visits.push(["inpatient", "住院 inpatient"]);
  if (policy.services.length) visits.push(["outpatient", "门诊 outpatient"]);
  fill($("visit"), visits);
  fill($("service"), policy.services.map((s) => [s.code, `${s.label} ${s.code}`]));
  fillLevels();
}

function fillLevels() {
  const policy = state.policy;
  const outpatient = $("visit").value === "outpatient";
  for (const node of document.querySelectorAll(".outpatient-only")) node.hidden = !outpatient;
  if (!policy) return;
  if (outpatient) {
    const service = policy.services.find((s) => s.code === $("service").value) || policy.services[0];
    fill($("level"), service ? service.levels.map((l) => [l.code, `${l.label} ${l.code}`]) : []);
    $("disease-list").replaceChildren(...(service ? service.diseases : []).map((d) => option(d, d)));
  } else {
    fill($("level"), Object.entries(policy.levels).map(([code, label]) => [code, `${label} ${code}`]));
  }
}

// ------------------------------------------------------------------ the quote

function claimOfForm() {
  const claim = {};
  for (const id of CLAIM_FIELDS) {
    const value = $(id).value.trim();
    if (value) claim[id] = value;
  }
  claim.visit = $("visit").value || "inpatient";
  if (claim.visit === "outpatient") {
    claim.service = $("service").value;
    const diseases = $("diseases").value.trim();
    if (diseases) claim.diseases = diseases;
  }
  if ($("retired").checked) claim.retired = true;
  return claim;
}

async function submitQuote(event) {
  event.preventDefault();
  for (const node of document.querySelectorAll(".invalid")) node.classList.remove("invalid");
  const request = { region: $("region").value.trim(), claim: claimOfForm(), explain: $("explain").checked, table: true };
  if ($("scheme").value) request.scheme = $("scheme").value;
  if ($("tier").value) request.tier = $("tier").value;
  const result = $("result");
  result.replaceChildren(element("p", "muted", "测算中… quoting…"));
  $("submit").disabled = true;
  try {
    const { ok, body } = await getJSON("/quote", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (ok) showSettlement(result, body);
    else showError(result, body);
  } catch (error) {
    showError(result, { error: String(error) });
  } finally {
    $("submit").disabled = false;
  }
}

function showError(result, body) {
  const box = element("div", "error");
  box.setAttribute("role", "alert");
  box.append(element("strong", null, "无法测算 could not quote"), element("p", null, body.error));
  result.replaceChildren(box);
  const field = body.field && document.querySelector(`[data-field="${CSS.escape(body.field)}"]`);
  if (field) {
    field.classList.add("invalid");
    field.focus();
  }
}

function card(label, value, className) {
  const node = element("div", `card ${className || ""}`);
  node.append(element("span", "card-label", label), element("span", "card-value", value));
  return node;
}

function showSettlement(result, body) {
  const cards = element("div", "cards");
  cards.append(
    card("基金支付 all funds", body.funds, "funds"),
    card("个人负担 patient pays", body.patient, "patient"),
    card("实际报销比例 funds / total", body.rate_of_total, "rate"));
  const parts = [element("h2", null, "测算结果 medcalc quote 报销测算"), cards];
  for (const part of body.view || []) {
    parts.push(part.kind === "table" ? viewTable(part) : element("p", "view-head", part.text));
  }
  result.replaceChildren(...parts);
  result.scrollIntoView({ behavior: "smooth", block: "start" });
}

// One table of `medcalc quote`'s output, as the answer's view gives it.
function viewTable(part) {
  const table = element("table", part.columns.length > 2 ? "view steps" : "view breakdown");
  if (part.title) table.append(element("caption", null, part.title));
  const head = element("tr");
  part.columns.forEach((name, j) => head.append(element("th", part.align[j] === "right" ? "num" : null, name)));
  const thead = element("thead");
  thead.append(head);
  table.append(thead);
  const rows = element("tbody");
  part.rows.forEach((cells, i) => {
    const row = element("tr");
    if (part.section_ends.includes(i)) row.classList.add("section-end");
    if (part.bold_rows.includes(i)) row.classList.add("strong");
    cells.forEach((text, j) => {
      const cell = element("td", part.align[j] === "right" ? "num" : null, text);
      if (text.startsWith("“")) cell.classList.add("quote");
      row.append(cell);
    });
    rows.append(row);
  });
  table.append(rows);
  return table;
}

// ------------------------------------------------------------------ wiring

document.addEventListener("DOMContentLoaded", () => {
  if (!$("settled_on").value) $("settled_on").value = new Date().toISOString().slice(0, 10);
  for (const id of ["region", "settled_on"]) $(id).addEventListener("input", scheduleLookup);
  for (const id of ["region", "settled_on", "scheme", "tier"]) $(id).addEventListener("change", scheduleLookup);
  $("visit").addEventListener("change", fillLevels);
  $("service").addEventListener("change", fillLevels);
  $("quote").addEventListener("submit", submitQuote);
  loadPolicies();
});
