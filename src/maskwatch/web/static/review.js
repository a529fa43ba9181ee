// The review page of `maskwatch watch`: filters and pages through /api/review, shows an event with its
// snapshot, clip and the person's timeline (/api/events/ID), marks it reviewed and corrects its verdict, or
// its person's (POST JSON).
"use strict";

const NAMES = { with_mask: "with mask", without_mask: "without mask", mask_weared_incorrect: "worn wrong",
                unknown: "unknown", not_a_face: "not a face" };
const $ = (id) => document.getElementById(id);
const form = $("filters");
let page = 1, pages = 1, chosen = null;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const when = (event) => new Date(event.wall_time).toLocaleString();
const reviewText = (review) => (review ? `${new Date(review.reviewed).toLocaleString()}${review.reviewer
  ? ` by ${review.reviewer}` : ""}` : "not yet");

function fill(select, values) {  // the choices the API offers, keeping the one chosen
  const current = select.value;
  select.replaceChildren(element("option", { value: "" }, "all"),
    ...values.map((value) => element("option", { value }, NAMES[value] || value)));
  select.value = values.includes(current) ? current : "";
}

function query() {
  const params = new URLSearchParams({ page: String(page) });
  for (const [name, value] of new FormData(form)) {
    if (!value) continue;
    params.set(name, name === "since" || name === "until" ? new Date(value).toISOString() : value);
  }
  return params;
}

async function load() {
  const result = await api(`/api/review?${query()}`);
  pages = result.pages;
  fill(form.camera, result.cameras);
  fill(form.zone, result.zones);
  fill(form.kind, result.kinds);
  fill(form.state, result.states);
  $("events").replaceChildren(...result.events.map(row));
  $("position").textContent = `page ${result.page} of ${result.pages} · ${result.total} event(s)`;
  $("corrections").textContent = result.corrections.length ? "Corrected verdicts: " + result.corrections.map(
    (c) => `${c.camera} ${NAMES[c.model] || c.model} → ${NAMES[c.corrected]}: ${c.events}`).join(" · ") : "";
  $("previous").disabled = page <= 1;
  $("next").disabled = page >= pages;
}

function row(event) {
  const tr = element("tr", { "data-id": String(event.id) });
  if (event.id === chosen) tr.classList.add("chosen");
  const thumb = element("td");
  if (event.snapshot_url) thumb.append(element("img", { src: event.snapshot_url, alt: "" }));
  tr.append(thumb, element("td", {}, when(event)), element("td", {}, event.source),
    element("td", {}, `#${event.person}`), element("td", {}, event.kind.replace("_", " ")),
    stateCell(event),
    element("td", {}, (event.zones || []).join(", ")), element("td", {}, event.clip_url ? "▶" : ""),
    element("td", { class: "reviewed" }, event.review ? "✓" : "no"));
  tr.addEventListener("click", () => show(event.id));
  return tr;
}

function stateCell(event) {  // the model's verdict; struck through, with the correction, when corrected
  const name = NAMES[event.state] || event.state;
  if (!event.correction) return element("td", { class: `tag ${event.state}` }, name);
  const td = element("td", { class: `tag ${event.correction.state}` });
  td.append(element("span", { class: "was" }, name), NAMES[event.correction.state]);
  return td;
}

async function show(id) {
  chosen = id;
  history.replaceState(null, "", `/review?event=${id}`);  // each event has an address of its own
  for (const tr of document.querySelectorAll("#events tr")) tr.classList.toggle("chosen", tr.dataset.id === String(id));
  const { event, timeline } = await api(`/api/events/${id}`);
  $("detail-title").textContent = `${event.kind.replace("_", " ")} · person #${event.person} · event ${event.id}`;
  $("detail-body").hidden = false;
  $("snapshot").hidden = !event.snapshot_url;
  $("no-snapshot").hidden = Boolean(event.snapshot_url);
  if (event.snapshot_url) $("snapshot").src = event.snapshot_url;
  $("face-kept").hidden = !event.face_url;
  if (event.face_url) $("face").src = event.face_url;
  const clip = $("clip");
  clip.hidden = !event.clip_url;
  $("no-clip").hidden = Boolean(event.clip_url);
  if (event.clip_url) { if (clip.getAttribute("src") !== event.clip_url) clip.src = event.clip_url; } else clip.removeAttribute("src");
  $("when").textContent = when(event);
  $("camera").textContent = event.source;
  $("state").textContent = NAMES[event.state] || event.state;
  $("state").className = `tag ${event.state}`;
  $("zones").textContent = (event.zones || []).join(", ") || "–";
  $("lasted-row").hidden = event.duration_s == null;  // an alert: how long the person had been in its state
  $("lasted").textContent = event.duration_s == null ? "" : `${event.duration_s.toFixed(1)} s ${NAMES[event.state] || event.state}`;
  $("reviewed").textContent = reviewText(event.review);
  const fixed = event.correction;
  $("corrected").textContent = fixed ? `${NAMES[fixed.state]}, ${new Date(fixed.corrected).toLocaleString()}${
    fixed.corrector ? ` by ${fixed.corrector}` : ""}` : "no";
  $("uncorrect").hidden = !fixed;
  $("uncorrect").onclick = () => correct(event.id, null, false);
  $("correct").onsubmit = (submitted) => {
    submitted.preventDefault();
    correct(event.id, $("correct").state.value, $("correct").person.checked);
  };
  const mark = $("mark");
  mark.textContent = event.review ? "Mark not reviewed" : "Mark reviewed";
  mark.onclick = () => mark_(event.id, !event.review);
  $("timeline").replaceChildren(...timeline.map((step) => element("li", { class: step.id === event.id ? "this" : "" },
    `${when(step)}: ${step.kind.replace("_", " ")} (${NAMES[step.state] || step.state}${
      step.correction ? ` → ${NAMES[step.correction.state]}` : ""})`)));
}

async function mark_(id, reviewed) {
  await api(`/api/events/${id}/review`, { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify({ reviewed }) });
  await Promise.all([load(), show(id)]);
}

async function correct(id, state, person) {
  await api(`/api/events/${id}/correction`, { method: "POST", headers: { "Content-Type": "application/json" },
                                               body: JSON.stringify({ state, person }) });
  await Promise.all([load(), show(id)]);
}

form.addEventListener("submit", (event) => { event.preventDefault(); page = 1; load(); });
$("previous").addEventListener("click", () => { page = Math.max(1, page - 1); load(); });
$("next").addEventListener("click", () => { page = Math.min(pages, page + 1); load(); });
load();
const linked = Number(new URLSearchParams(location.search).get("event"));  // /review?event=ID opens it
if (linked > 0) show(linked);
