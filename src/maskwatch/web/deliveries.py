"""The site's deliveries (MQTT topics and webhooks) and how they keep up."""

from __future__ import annotations

from fastapi import APIRouter

from maskwatch.web.site import SiteDep

router = APIRouter()


@router.get("/api/deliveries")
async def delivery_status(site: SiteDep) -> list[dict]:
    """Each MQTT topic and webhook: events waiting in the outbox, delivered, failed attempts."""
    return [{"target": d.label, "name": d.describe(), "backlog": d.backlog, "delivered": d.delivered,
             "failures": d.failures, "down": d.down_since is not None} for d in site.deliveries]
