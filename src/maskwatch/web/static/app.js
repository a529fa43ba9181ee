// maskwatch page: a photo or the camera goes to POST /v1/detect; boxes are drawn on a canvas over it.
// #stage's data-faces holds the last answer's faces as JSON (tests read it).
"use strict";

const $ = (id) => document.getElementById(id);
const stage = $("stage"), still = $("still"), video = $("video"), overlay = $("overlay"), cameraButton = $("camera");
const COLORS = { with_mask: "#16a34a", without_mask: "#dc2626", mask_weared_incorrect: "#f08200", unknown: "#808080" },
  OTHER = "#ea580c";
const INTERVAL_MS = 200; // at most 5 frames a second, and one request at a time
const MAX_SIDE = 640; // frames are sent at most this large: the server's fast preset works at 640 px
const grabber = document.createElement("canvas");
let stream = null, timer = null, busy = false, lastFrame = 0, fps = 0;

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// The state is the label where the face could be judged, else "unknown" (too small or too unsure).
const stateOf = (face) => face.state ?? face.label;
const describe = (face) => stateOf(face) === "unknown" ? "unknown"
  : `${(stateOf(face) ?? "face").replace(/_/g, " ")} ${Math.round((face.confidence ?? face.score) * 100)}%`;

async function detect(body, headers = {}) {
  const started = performance.now();
  const response = await fetch("/v1/detect", { method: "POST", body, headers });
  const result = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(result.error || `HTTP ${response.status}`);
  $("latency").textContent = `${Math.round(performance.now() - started)} ms`;
  return result;
}

function show(result) {
  overlay.width = result.width;
  overlay.height = result.height;
  const ctx = overlay.getContext("2d");
  const line = Math.max(2, result.width / 250), size = Math.max(14, Math.round(result.width / 32));
  ctx.lineWidth = line;
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const face of result.faces) {
    const [x1, y1, x2, y2] = face.box, color = COLORS[stateOf(face)] ?? OTHER, text = describe(face);
    ctx.strokeStyle = color;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const h = size + 8, w = ctx.measureText(text).width + 10;
    const top = y1 >= h ? y1 - h : y2; // above the box, or below it when the box touches the top edge
    ctx.fillStyle = color;
    ctx.fillRect(x1 - line / 2, top, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 5 - line / 2, top + 4);
  }
  const count = (state) => result.faces.filter((face) => stateOf(face) === state).length;
  $("with").textContent = count("with_mask");
  $("without").textContent = count("without_mask");
  $("labels").replaceChildren(...result.faces.map((face) => {
    const item = document.createElement("li");
    item.dataset.label = face.label ?? "";
    item.textContent = describe(face);
    return item;
  }));
  stage.dataset.faces = JSON.stringify(result.faces);
}

function clear() {
  show({ faces: [], width: overlay.width, height: overlay.height });
}

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
