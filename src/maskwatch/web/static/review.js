// The review page of `maskwatch watch`: filters and pages through /api/review, shows an event with its
// snapshot, clip and the person's timeline (/api/events/ID), and marks it reviewed (POST JSON).
"use strict";

const NAMES = { with_mask: "with mask", without_mask: "without mask", mask_weared_incorrect: "worn wrong",
                unknown: "unknown" };
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
    element("td", { class: `tag ${event.state}` }, NAMES[event.state] || event.state),
    element("td", {}, (event.zones || []).join(", ")), element("td", {}, event.clip_url ? "▶" : ""),
    element("td", { class: "reviewed" }, event.review ? "✓" : "no"));
  tr.addEventListener("click", () => show(event.id));
  return tr;
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
  const mark = $("mark");
  mark.textContent = event.review ? "Mark not reviewed" : "Mark reviewed";
  mark.onclick = () => mark_(event.id, !event.review);
  $("timeline").replaceChildren(...timeline.map((step) => element("li", { class: step.id === event.id ? "this" : "" },
    `${when(step)}: ${step.kind.replace("_", " ")} (${NAMES[step.state] || step.state})`)));
}

async function mark_(id, reviewed) {
  await api(`/api/events/${id}/review`, { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify({ reviewed }) });
  await Promise.all([load(), show(id)]);
}

form.addEventListener("submit", (event) => { event.preventDefault(); page = 1; load(); });
$("previous").addEventListener("click", () => { page = Math.max(1, page - 1); load(); });
$("next").addEventListener("click", () => { page = Math.min(pages, page + 1); load(); });
load();
const linked = Number(new URLSearchParams(location.search).get("event"));  // /review?event=ID opens it
if (linked > 0) show(linked);
