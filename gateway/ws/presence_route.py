"""`GET /hubs/{hubId}/presence` (admin key): who is connected to a hub, and their status."""

from __future__ import annotations

from aiohttp import web

from gateway.admin.auth import require_admin
from gateway.http.appkeys import ENGINE
from gateway.ws.presence import roster_detail, status_counts


async def get_hub_presence(request: web.Request) -> web.Response:
    require_admin(request)
    hub_id = request.match_info["hubId"]
    agents = await request.app[ENGINE].presence.agents(hub_id)
    return web.json_response(
        {
            "hubId": hub_id,
            "counts": status_counts(agents),
            "agents": [roster_detail(agent) for agent in agents],
        }
    )
