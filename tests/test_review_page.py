"""The review page of `watch` in headless Chromium: filters and pages, an event with its snapshot, its clip
(which the browser plays) and the person's timeline, and an alert marked reviewed by the user its token
names, stored in the real SQLite store. Values are read from the DOM; a screenshot is kept for a look."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from maskwatch.store import EventStore
from tests.browser import chromium, needs_chromium, wait_for
from tests.services import Watch, door_clip, free_port, wait_until

pytestmark = needs_chromium
ALICE = "alice-token-1234"
SCREENSHOT = Path("/tmp/maskwatch-review.png")

PAGE_STATE = """(() => ({
  rows: [...document.querySelectorAll('#events tr')].map(tr => ({
    id: Number(tr.dataset.id), cells: [...tr.children].map(td => td.textContent.trim()),
    chosen: tr.classList.contains('chosen')})),
  position: document.getElementById('position').textContent,
  title: document.getElementById('detail-title').textContent,
  reviewed: document.getElementById('reviewed').textContent,
  zones: document.getElementById('zones').textContent,
  timeline: [...document.querySelectorAll('#timeline li')].map(li => li.textContent),
  snapshot: document.getElementById('snapshot').naturalWidth,
  video: (v => ({ready: v.readyState, duration: v.duration, width: v.videoWidth, error: v.error && v.error.code}))
         (document.getElementById('clip')),
}))()"""


def test_review_filter_open_play_and_mark_an_alert(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(f"""store = "events.db"
[http]
port = {port}
users_env = "SITE_USERS"
[[camera]]
name = "door"
source = "door.mp4"
loop = true
[[camera.zone]]
name = "doorway"
points = [[0.25, 0], [0.75, 0], [0.75, 1], [0.25, 1]]
[[alert]]
state = "without_mask"
after_s = 0.5
[clips]
enabled = true
before_s = 0.5
after_s = 0.5
""")
    site = Watch(tmp_path / "site.toml", {"SITE_USERS": f"alice={ALICE}"}, port)
    try:
        site.wait_running()
        with httpx.Client(base_url=site.base, headers={"Authorization": "Bearer wrong-token"}) as stranger:
            assert stranger.get("/api/review").status_code == 401  # a wrong token is refused, even on loopback

        def two_clipped_alerts() -> list[dict] | None:
            found = site.get("/api/review?kind=alert").json()["events"]
            clipped = [e for e in found if e["clip_url"] and site.get(e["clip_url"]).status_code == 200]
            return clipped if len(clipped) >= 2 else None

        alerts = wait_until(two_clipped_alerts, 90, "two alerts with their clips written")
        with chromium(f"{site.base}/review?token={ALICE}", tmp_path) as page:
            wait_for(lambda: page.evaluate("document.querySelectorAll('#events tr').length > 0"), 30, "event rows")
            # filter: alerts only, in the doorway zone
            page.evaluate("""(() => { const f = document.getElementById('filters');
                f.kind.value = 'alert'; f.zone.value = 'doorway';
                f.requestSubmit(); })()""")
            wait_for(lambda: all(r["cells"][4] == "alert" for r in page.evaluate(PAGE_STATE)["rows"]), 30,
                     "only alerts listed")
            shown = page.evaluate(PAGE_STATE)
            assert all(row["cells"][6] == "doorway" and row["cells"][7] == "▶" for row in shown["rows"])
            target = alerts[-1]["id"]  # the oldest of the two
            page.evaluate(f"document.querySelector('#events tr[data-id=\"{target}\"]').click()")
            wait_for(lambda: page.evaluate(PAGE_STATE)["video"]["ready"] >= 1, 30, "the clip's metadata")
            shown = page.evaluate(PAGE_STATE)
            assert shown["title"].startswith("alert · person #") and shown["title"].endswith(f"event {target}")
            assert shown["video"]["error"] is None and shown["video"]["duration"] > 0.5
            assert shown["video"]["width"] > 0 and shown["snapshot"] > 0 and shown["zones"] == "doorway"
            assert any("person appeared" in step for step in shown["timeline"]) and shown["reviewed"] == "not yet"
            page.evaluate("document.getElementById('mark').click()")
            wait_for(lambda: "by alice" in page.evaluate(PAGE_STATE)["reviewed"], 30, "the review shown")
            wait_for(lambda: any(r["id"] == target and r["cells"][8] == "✓" for r in page.evaluate(PAGE_STATE)["rows"]),
                     30, "the row marked")
            # the model was wrong on this person: corrected for their whole visit, as alice
            page.evaluate("""(() => { const f = document.getElementById('correct');
                f.state.value = 'with_mask'; f.person.checked = true; f.requestSubmit(); })()""")
            wait_for(lambda: page.evaluate("document.getElementById('corrected').textContent")
                     .startswith("with mask,"), 30, "the correction shown")
            wait_for(lambda: any(r["id"] == target and r["cells"][5] == "without maskwith mask"
                                 for r in page.evaluate(PAGE_STATE)["rows"]), 30, "the row's verdict struck through")
            shown = page.evaluate(PAGE_STATE)
            assert all(step.endswith("→ with mask)") for step in shown["timeline"])
            counted = page.evaluate("document.getElementById('corrections').textContent")
            assert "door without mask → with mask" in counted
            SCREENSHOT.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
        with EventStore(tmp_path / "events.db") as store:
            review = store.reviews([target])[target]
            correction = store.corrections([target])[target]
        assert review["reviewer"] == "alice" and review["reviewed"]
        assert correction["state"] == "with_mask" and correction["corrector"] == "alice"
        # only JSON marks an event: a form post from another page (no CORS preflight) does not
        plain = site.http.post(f"/api/events/{target}/review", content="reviewed=false",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert plain.status_code == 415
        unreviewed = site.get("/api/review?reviewed=false&kind=alert").json()
        assert target not in [e["id"] for e in unreviewed["events"]]
        assert json.loads(site.get(f"/api/events/{target}").text)["event"]["review"]["reviewer"] == "alice"
    finally:
        site.stop()


def test_review_api_refuses_bad_filters(tmp_path: Path) -> None:
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                                        'source = "door.mp4"\nloop = true\n')
    site = Watch(tmp_path / "site.toml", port=port)
    try:
        site.wait_answering()
        assert site.get("/api/review?kind=waved").status_code == 422
        assert site.get("/api/review?state=masked").status_code == 422
        assert site.get("/api/review?page=0").status_code == 422
        assert site.get("/api/events/999999").status_code == 404
        assert site.http.post("/api/events/999999/review", json={"reviewed": True}).status_code == 404
        assert site.http.post("/api/events/1/review", json={"reviewed": "yes"}).status_code == 422
        # a body that is not JSON, an id or a page past SQLite's integers: the client's error, said in JSON
        for answer in (site.http.post("/api/events/1/review", content=b"{reviewed",
                                      headers={"Content-Type": "application/json"}),
                       site.http.post("/api/events/1/review", content=b"\xff\xfe",
                                      headers={"Content-Type": "application/json"}),
                       site.get(f"/api/events/{2**63}"), site.get(f"/api/events/{-2**63 - 1}"),
                       site.http.post(f"/api/events/{2**64}/review", json={"reviewed": True}),
                       site.get(f"/api/review?page={2**62}")):
            assert answer.status_code == 422 and "detail" in answer.json(), answer.text
        result = site.get("/api/review").json()
        assert result["page"] == 1 and result["pages"] >= 1 and result["cameras"] == ["door"]
        # links planted in the media folders are not followed (a plain file there is served)
        for folder, name in (("events.snapshots", "planted.jpg"), ("events.clips", "planted.mp4")):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / name).symlink_to(tmp_path / "site.toml")
        assert site.get("/api/snapshots/planted.jpg").status_code == 404
        assert site.get("/api/clips/planted.mp4").status_code == 404
        (tmp_path / "events.clips" / "plain.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
        assert site.get("/api/clips/plain.mp4").status_code == 200
    finally:
        site.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASKWATCH_TOKEN", raising=False)


SITE_PAGE = """(() => document.body && document.documentElement && ({
  width: document.documentElement.scrollWidth,
  text: document.body.innerText,
  times: [...document.querySelectorAll('#events tr')].map(tr => tr.children[1].textContent),
  links: [...document.querySelectorAll('#events tr a')].map(a => a.getAttribute('href')),
  labels: [...document.querySelectorAll('#chart text')].map(t => t.textContent),
}))()"""


def test_the_site_page_reads_on_a_phone_and_links_each_event_to_its_review(tmp_path: Path) -> None:
    """At 390 px the site page is no wider than the phone; its words say what they count (no 'Outbox', no
    bare 'dropped'); the chart names the hour running now; events are newest first by time, each a link to
    /review?event=ID, which opens that event, says how long an alert's person was in its state, and says
    'no' for an event not reviewed."""
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                                        'source = "door.mp4"\nloop = true\n[[alert]]\nstate = "without_mask"\n'
                                        'after_s = 0.5\n')
    site = Watch(tmp_path / "site.toml", port=port)
    try:
        site.wait_running()
        wait_until(lambda: site.get("/api/review?kind=alert").json()["events"], 60, "an alert")
        with chromium(f"{site.base}/", tmp_path) as page:
            page.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
            page.call("Page.reload")
            shown = wait_for(lambda: (s := page.evaluate(SITE_PAGE)) and s["links"] and s, 30, "event rows")
            assert shown["width"] <= 390, shown["width"]
            assert "Waiting to be sent" in shown["text"] and "Outbox" not in shown["text"]
            assert "frames skipped" in shown["text"] and "dropped" not in shown["text"]
            assert "model mask_classifier_fast.tflite, trained " in shown["text"]  # what the camera runs
            assert shown["labels"][-1] == "now"
            events = site.get("/api/events?limit=30").json()
            newest_first = sorted(events, key=lambda e: (e["wall_time"], e["id"]), reverse=True)
            assert shown["links"] == [f"/review?event={e['id']}" for e in newest_first]
        alert = site.get("/api/review?kind=alert").json()["events"][0]
        (tmp_path / "again").mkdir()
        with chromium(f"{site.base}/review?event={alert['id']}", tmp_path / "again") as page:
            loaded = "document.getElementById('position') && " + PAGE_STATE  # the page may still be arriving
            wait_for(lambda: (s := page.evaluate(loaded)) and s["title"].endswith(f"event {alert['id']}"), 30,
                     "the linked event opened")
            lasted = page.evaluate("document.getElementById('lasted').textContent")
            assert lasted.endswith("s without mask") and float(lasted.split()[0]) >= 0.5
            wait_for(lambda: page.evaluate(PAGE_STATE)["rows"], 30, "rows")
            assert {row["cells"][8] for row in page.evaluate(PAGE_STATE)["rows"]} == {"no"}
    finally:
        site.stop()
