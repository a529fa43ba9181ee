// maskwatch page: a photo or the camera goes to POST /v1/detect; boxes are drawn on a canvas over it.
// #stage's data-faces holds the last answer's faces as JSON (tests read it).
"use strict";

const $ = (id) => document.getElementById(id);
const stage = $("stage"), still = $("still"), video = $("video"), overlay = $("overlay"), tags = $("tags"),
  cameraButton = $("camera");
const COLORS = { with_mask: "#16a34a", without_mask: "#dc2626", mask_weared_incorrect: "#f08200", unknown: "#808080" },
  OTHER = "#ea580c";
const SHORT = { with_mask: "mask", without_mask: "no mask", mask_weared_incorrect: "worn wrong", unknown: "?" };
const INTERVAL_MS = 200; // at most 5 frames a second, and one request at a time
const MAX_SIDE = 640; // frames are sent at most this large: the server's fast preset works at 640 px
const SMALL_FACE = 40; // px on the page: a face narrower than this gets a small, short label
const grabber = document.createElement("canvas");
let stream = null, timer = null, busy = false, lastFrame = 0, fps = 0, shown = { faces: [], width: 0, height: 0 };

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// The state is the label where the face could be judged, else "unknown" (too small or too unsure).
const stateOf = (face) => face.state ?? face.label;
const percent = (face) => `${Math.round((face.confidence ?? face.score) * 100)}%`;
const describe = (face) => stateOf(face) === "unknown" ? "unknown"
  : `${(stateOf(face) ?? "face").replace(/_/g, " ")} ${percent(face)}`;
const brief = (face) => stateOf(face) === "unknown" ? SHORT.unknown
  : `${SHORT[stateOf(face)] ?? stateOf(face) ?? "face"} ${percent(face)}`;

async function detect(body, headers = {}) {
  const started = performance.now();
  const response = await fetch("/v1/detect", { method: "POST", body, headers });
  const result = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(result.error || `HTTP ${response.status}`);
  $("latency").textContent = `${Math.round(performance.now() - started)} ms`;
  return result;
}

// The picture as large as the column allows (scaled up too, aspect ratio kept, at most 75% of the window's
// height), so a small photo of a crowd is not a stamp in an empty page.
function fit() {
  const media = video.hidden ? still : video;
  const width = media === video ? video.videoWidth : still.naturalWidth;
  const height = media === video ? video.videoHeight : still.naturalHeight;
  if (!width || !height || media.hidden) return;
  const scale = Math.min(stage.parentElement.clientWidth / width, Math.max(240, 0.75 * window.innerHeight) / height);
  media.style.width = `${Math.floor(width * scale)}px`;
  media.style.height = `${Math.floor(height * scale)}px`;
}

const overlap = (a, b) => Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1)) *
  Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));

// A place for each label inside the picture: above or below its box (then a line further, then two), aligned
// with its left or right edge, centred, or beside it; clamped to the edges. The nearest place that overlaps
// no label placed before and covers the fewest faces wins.
function placeTags(items, width, height) {
  const placed = [], boxes = items.map((item) => item.box);
  const order = items.map((_, i) => i).sort((a, b) => boxes[a].y1 - boxes[b].y1 || boxes[a].x1 - boxes[b].x1);
  for (const i of order) {
    const { box, w, h } = items[i];
    const xs = [box.x1, box.x2 - w, (box.x1 + box.x2 - w) / 2, box.x1 - w, box.x2];
    const ys = [box.y1 - h, box.y2, box.y1 - 2 * h, box.y2 + h, box.y1 - 3 * h, box.y2 + 2 * h];
    let best = null;
    ys.forEach((y, yi) => xs.forEach((x, xi) => {
      const left = Math.min(Math.max(0, x), width - w), top = Math.min(Math.max(0, y), height - h);
      const rect = { x1: left, y1: top, x2: left + w, y2: top + h };
      const cost = 100 * placed.reduce((sum, other) => sum + overlap(rect, other), 0) +
        boxes.reduce((sum, other) => sum + overlap(rect, other), 0) + yi * 2 + xi;
      if (!best || cost < best.cost) best = { ...rect, cost };
    }));
    placed.push(best);
    items[i].node.style.transform = `translate(${best.x1}px, ${best.y1}px)`;
  }
}

function draw() {
  const { faces, width, height } = shown;
  const shownWidth = stage.clientWidth, shownHeight = stage.clientHeight, ratio = window.devicePixelRatio || 1;
  overlay.width = Math.round(shownWidth * ratio);
  overlay.height = Math.round(shownHeight * ratio);
  const ctx = overlay.getContext("2d"), sx = width ? shownWidth / width : 1, sy = height ? shownHeight / height : 1;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.lineWidth = 2;
  const items = faces.map((face) => {
    const [x1, y1, x2, y2] = face.box, box = { x1: x1 * sx, y1: y1 * sy, x2: x2 * sx, y2: y2 * sy };
    ctx.strokeStyle = COLORS[stateOf(face)] ?? OTHER;
    ctx.strokeRect(box.x1, box.y1, box.x2 - box.x1, box.y2 - box.y1);
    const small = box.x2 - box.x1 < SMALL_FACE, node = document.createElement("span");
    node.className = "tag";
    node.dataset.state = stateOf(face) ?? "";
    node.style.fontSize = small ? "11px" : "13px";
    node.textContent = small ? brief(face) : describe(face);
    node.title = describe(face);
    return { box, node };
  });
  tags.replaceChildren(...items.map((item) => item.node));
  for (const item of items) ({ width: item.w, height: item.h } = item.node.getBoundingClientRect());
  placeTags(items, shownWidth, shownHeight);
}

function show(result) {
  shown = result;
  draw();
  const count = (state) => result.faces.filter((face) => stateOf(face) === state).length;
  $("with").textContent = count("with_mask");
  $("without").textContent = count("without_mask");
  $("unknown").textContent = count("unknown");
  $("incorrect").textContent = count("mask_weared_incorrect");
  $("incorrect-box").hidden = !count("mask_weared_incorrect");  // two-class models never see the third state
  $("labels").replaceChildren(...result.faces.map((face) => {
    const item = document.createElement("li");
    item.dataset.label = face.label ?? "";
    item.dataset.state = stateOf(face) ?? "";
    item.textContent = describe(face);
    return item;
  }));
  stage.dataset.faces = JSON.stringify(result.faces);
}

function clear() {
  show({ faces: [], width: shown.width, height: shown.height });
}

still.addEventListener("load", () => { fit(); draw(); });
video.addEventListener("resize", () => { fit(); draw(); });  // the camera's size is known, or changed
window.addEventListener("resize", () => { fit(); draw(); });

$("photo").addEventListener("change", async () => {
  const file = $("photo").files[0];
  if (!file) return;
  stopCamera();
  if (still.src) URL.revokeObjectURL(still.src);
  still.src = URL.createObjectURL(file);
  still.hidden = false;
  stage.dataset.state = "photo";
  clear();
  status(`Checking ${file.name}…`);
  const form = new FormData();
  form.append("file", file);
  try {
    const result = await detect(form);
    show(result);
    status(`${file.name}: ${result.faces.length} face(s) in ${result.width}×${result.height}`);
  } catch (error) {
    status(`${file.name}: ${error.message}`, true);
  }
  $("photo").value = "";
});

function grab() {
  const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  grabber.width = Math.round(video.videoWidth * scale);
  grabber.height = Math.round(video.videoHeight * scale);
  grabber.getContext("2d").drawImage(video, 0, 0, grabber.width, grabber.height);
  return new Promise((resolve) => grabber.toBlob(resolve, "image/jpeg", 0.85));
}

async function step() {
  timer = null;
  const started = performance.now(), current = stream;
  if (current && !busy && video.videoWidth) {
    busy = true;
    try {
      const result = await detect(await grab(), { "Content-Type": "image/jpeg" });
      if (stream === current) {
        show(result);
        const now = performance.now();
        if (lastFrame) fps = fps ? 0.8 * fps + 0.2 * 1000 / (now - lastFrame) : 1000 / (now - lastFrame);
        lastFrame = now;
        $("fps").textContent = fps ? fps.toFixed(1) : "–";
        status("Live: checking the camera a few times a second.");
      }
    } catch (error) {
      status(`Camera frame: ${error.message}`, true);
    } finally {
      busy = false;
    }
  }
  if (stream && !timer) timer = setTimeout(step, Math.max(0, INTERVAL_MS - (performance.now() - started)));
}

async function startCamera() {
  status("Asking for the camera…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (error) {
    status(`No camera: ${error.message}`, true);
    return;
  }
  still.hidden = true;
  video.hidden = false;
  video.srcObject = stream;
  await video.play().catch(() => {});
  stage.dataset.state = "live";
  cameraButton.textContent = "Stop camera";
  cameraButton.classList.add("stop");
  lastFrame = fps = 0;
  clear();
  step();
}

function stopCamera() {
  if (!stream) return;
  stream.getTracks().forEach((track) => track.stop());
  stream = null;
  clearTimeout(timer);
  timer = null;
  video.srcObject = null;
  video.hidden = true;
  stage.dataset.state = "idle";
  cameraButton.textContent = "Start camera";
  cameraButton.classList.remove("stop");
  $("fps").textContent = "–";
  clear();
  status("Camera stopped.");
}

cameraButton.addEventListener("click", () => (stream ? stopCamera() : startCamera()));
