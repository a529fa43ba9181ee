"""Prometheus metrics of `maskwatch watch`, read from the supervisor and the deliveries at scrape time.

Counters add up over a camera's worker restarts and start again with `watch` (Prometheus expects that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from maskwatch.core.classes import compliance
from maskwatch.core.events import EVENT_KINDS, STATES
from maskwatch.monitor.delivery import Delivery
from maskwatch.monitor.supervisor import CameraStatus, Supervisor

PREFIX = "maskwatch"


class WatchCollector:
    def __init__(self, supervisor: Supervisor, deliveries: list[Delivery]) -> None:
        self.supervisor, self.deliveries = supervisor, deliveries

    def collect(self) -> Iterator[Metric]:
        statuses = list(self.supervisor.status.values())

        def per_camera(kind: type, name: str, doc: str, value: Callable[[CameraStatus], float]) -> Metric:
            family = kind(f"{PREFIX}_{name}", doc, labels=["camera"])
            for status in statuses:
                family.add_metric([status.name], value(status))
            return family

        yield per_camera(GaugeMetricFamily, "camera_up", "1 while the camera's worker runs and gets frames",
                         lambda s: float(s.state == "running"))
        yield per_camera(GaugeMetricFamily, "frames_per_second", "frames processed per second, recently",
                         lambda s: s.fps)
        for key, doc in (("frames", "frames processed"), ("dropped", "frames skipped because the worker was busy"),
                         ("still", "frames not looked at: nothing moved and nobody was in view (motion gating)"),
                         ("reconnects", "times the stream came back after dropping"),
                         ("restarts", "times the camera's worker was restarted after it died")):
            name = {"dropped": "frames_dropped", "still": "frames_still", "restarts": "worker_restarts"}.get(key, key)
            yield per_camera(CounterMetricFamily, name, doc, lambda s, key=key: s.counts[key])
        yield per_camera(CounterMetricFamily, "stream_gap_seconds", "seconds without frames before reconnects",
                         lambda s: s.counts["gap_s"])
        in_view = GaugeMetricFamily(f"{PREFIX}_people_in_view", "people in view now, by state",
                                    labels=["camera", "state"])
        seen = CounterMetricFamily(f"{PREFIX}_people_seen", "people who left the view, by verdict (the worst "
                                   "state they were in: without_mask, mask_weared_incorrect, with_mask, unknown)",
                                   labels=["camera", "state"])
        events = CounterMetricFamily(f"{PREFIX}_events", "events recorded, by kind", labels=["camera", "kind"])
        for s in statuses:
            for state in STATES:
                in_view.add_metric([s.name, state], s.in_view.get(state, 0))
                seen.add_metric([s.name, state], s.counts[f"seen:{state}"])
            for kind in EVENT_KINDS:
                events.add_metric([s.name, kind], s.counts[f"events:{kind}"])
        yield from (in_view, seen, events)
        ratio = GaugeMetricFamily(f"{PREFIX}_compliance_ratio", "with_mask / all judged (with_mask, without_mask, "
                                  "mask_weared_incorrect) of the people in view now; no sample for a camera where "
                                  "no one in view is judged", labels=["camera"])
        for s in statuses:  # a ratio of nobody is no value: NaN would break sums and averages over cameras
            if (share := compliance(s.in_view)) is not None:
                ratio.add_metric([s.name], share)
        yield ratio
        backlog = GaugeMetricFamily(f"{PREFIX}_outbox_depth", "events recorded but not yet delivered",
                                    labels=["target"])
        delivered = CounterMetricFamily(f"{PREFIX}_events_delivered", "events delivered", labels=["target"])
        failed = CounterMetricFamily(f"{PREFIX}_delivery_failures", "failed delivery attempts", labels=["target"])
        for d in self.deliveries:
            backlog.add_metric([d.label], d.backlog)
            delivered.add_metric([d.label], d.delivered)
            failed.add_metric([d.label], d.failures)
        yield from (backlog, delivered, failed)


def registry(supervisor: Supervisor, deliveries: list[Delivery]) -> CollectorRegistry:
    """A registry of its own (not the process-wide default), so that tests and apps do not share metrics."""
    reg = CollectorRegistry()
    reg.register(WatchCollector(supervisor, deliveries))
    return reg
