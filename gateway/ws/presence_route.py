"""`GET /hubs/{hubId}/presence` (admin key): who is connected to a hub, and their status."""

from __future__ import annotations

from aiohttp import web

from gateway.admin.auth import require_admin
from gateway.http.appkeys import ENGINE
from gateway.ws.presence import agents_present, status_counts


async def get_hub_presence(request: web.Request) -> web.Response:
    require_admin(request)
    hub_id = request.match_info["hubId"]
    agents = agents_present(await request.app[ENGINE].presence.entries(hub_id))
    return web.json_response(
        {
            "hubId": hub_id,
            "counts": status_counts(agents),
            "agents": [agent.detail() for agent in agents],
        }
    )
