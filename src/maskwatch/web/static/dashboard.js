// The site page of `maskwatch watch`: polls the API and draws cameras, today's numbers, a 24-hour chart
// (plain SVG, no library) and the latest events. The token, if any, travels in a cookie set by /?token=.
"use strict";

const COLORS = { with_mask: "var(--with)", without_mask: "var(--without)", mask_weared_incorrect: "var(--incorrect)",
                 unknown: "var(--unknown)" };
const STATE_NAMES = { with_mask: "with mask", without_mask: "without mask", mask_weared_incorrect: "worn wrong",
                      unknown: "unknown" };
const stateName = (state) => STATE_NAMES[state] || state;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function element(tag, attributes = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

const percent = (value) => (value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`);

function drawCameras(cameras) {
  const box = $("cameras");
  for (const camera of cameras) {
    let card = box.querySelector(`.camera[data-name="${CSS.escape(camera.name)}"]`);
    if (!card) {
      card = element("div", { class: "camera", "data-name": camera.name });
      card.append(element("img", { class: "view", alt: `live view of ${camera.name}` }), element("div", { class: "info" }));
      box.append(card);
    }
    const info = card.querySelector(".info");
    const inView = Object.entries(camera.in_view).map(([state, n]) => `${n} ${stateName(state)}`).join(", ") || "nobody";
    info.replaceChildren(
      element("span", { class: "name" }, camera.name),
      element("span", { class: "state", "data-state": camera.state }, camera.state),
      element("span", { class: "fps" }, `${camera.fps.toFixed(1)} fps`),
      element("span", { class: "in-view muted" }, `in view: ${inView}`),
      element("span", { class: "muted", title: "frames skipped: the camera sent them faster than they could be " +
        "looked at (the newest is always taken); reconnects: the stream dropped and came back; restarts: the " +
        "camera's process was started again" }, `frames skipped ${camera.dropped} · reconnects ${camera.reconnects} · restarts ${camera.restarts}`),
    );
    if (camera.node) info.append(element("span", { class: "muted node" }, `Ray node ${camera.node.slice(0, 8)}`));
    if (camera.model) {  // which classifier it runs, and when that was trained (a site-tuned one is reloaded)
      const name = camera.model.split(/[\\/]/).pop();
      info.append(element("span", { class: "muted model", title: camera.model },
        `model ${name}, trained ${new Date(camera.trained).toLocaleDateString()}`));
    }
    card.dataset.frames = camera.frames;
    if (camera.frames > 0) card.querySelector(".view").src = `${camera.view_url}?t=${Date.now()}`;
  }
}

// People are counted by their last state (when last seen) and by whether they were ever non-compliant,
// as `maskwatch events --summary` counts them.
function drawToday(data) {
  const total = data.today, last = total.people_by_last_state;
  $("people-today").textContent = total.people;
  $("with-today").textContent = last.with_mask;
  $("without-today").textContent = last.without_mask;
  $("unknown-today").textContent = last.unknown;
  $("incorrect-today").textContent = last.mask_weared_incorrect;
  $("incorrect-box").hidden = !last.mask_weared_incorrect;  // two-class models never see the third state
  $("ever-today").textContent = total.people_ever_non_compliant;
  $("compliance-today").textContent = percent(total.compliant_at_last_sighting);
  const chart = $("chart");
  const most = Math.max(1, ...data.hours.map((h) => h.people));
  const width = 960 / data.hours.length;
  chart.replaceChildren();
  data.hours.forEach((hour, i) => {
    const group = element("svg:g", { class: "hour", "data-hour": hour.hour, "data-people": hour.people,
                                     "data-ever": hour.people_ever_non_compliant });
    let y = 180;
    for (const state of ["with_mask", "without_mask", "mask_weared_incorrect", "unknown"]) {
      const n = hour.people_by_last_state[state], h = (165 * n) / most;
      if (h > 0) {
        const bar = element("svg:rect", { x: i * width + 4, y: y - h, width: width - 8, height: h, fill: COLORS[state], "data-state": state, "data-count": n });
        bar.append(element("svg:title", {}, `${hour.hour}: ${n} last seen ${stateName(state)} ` +
                           `(${hour.people_ever_non_compliant} of ${hour.people} ever non-compliant)`));
        group.append(bar);
      }
      y -= h;
    }
    const last = i === data.hours.length - 1;  // the hour running now, always named
    if (last || (i % 3 === 0 && i < data.hours.length - 2)) {
      group.append(element("svg:text", { x: i * width + 2, y: 196 }, last ? "now" : hour.hour.slice(11, 16)));
    }
    chart.append(group);
  });
}

function eventRow(e) {
  const row = element("tr", { "data-id": e.id, class: e.kind === "alert" ? "alert" : "" });
  row.addEventListener("click", () => { location.href = `/review?event=${e.id}`; });  // the event's own page
  const picture = element("td");
  if (e.snapshot_url) picture.append(element("img", { src: e.snapshot_url, alt: `person ${e.person}` }));
  const state = element("td");
  state.append(element("span", { class: `tag ${e.state}` }, stateName(e.state)));
  const time = element("td");
  time.append(element("a", { href: `/review?event=${e.id}` }, new Date(e.wall_time).toLocaleString()));
  row.append(picture, time, element("td", {}, e.source),
             element("td", {}, String(e.person)), element("td", { class: "kind" }, e.kind.replace("_", " ")), state);
  return row;
}

function drawEvents(events) {
  // Newest first by when they happened (cameras record in their own time, so ids are not in that order);
  // rows already shown are kept (events never change), so their snapshots load once.
  events.sort((a, b) => new Date(b.wall_time) - new Date(a.wall_time) || b.id - a.id);
  const shown = new Map([...$("events").children].map((row) => [row.dataset.id, row]));
  $("events").replaceChildren(...events.map((e) => shown.get(String(e.id)) || eventRow(e)));
}

async function refresh() {
  try {
    const [cameras, today, events, deliveries] = await Promise.all(
      [api("/api/cameras"), api("/api/today"), api("/api/events?limit=30"), api("/api/deliveries")]);
    drawCameras(cameras);
    drawToday(today);
    drawEvents(events);
    $("outbox").textContent = deliveries.length ? deliveries.reduce((n, d) => n + d.backlog, 0) : "–";
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    $("updated").className = "";
  } catch (error) {
    $("updated").textContent = `cannot reach maskwatch watch (${error.message})`;
    $("updated").className = "error";
  }
}

const midnight = new Date();
midnight.setHours(0, 0, 0, 0);
$("csv-today").href = `/api/events.csv?since=${encodeURIComponent(midnight.toISOString())}`;
refresh();
setInterval(refresh, 1500);
