"""`PUT /agent/auth` (admin key): a backend mints an agent's websocket token and URL."""

from __future__ import annotations

import time
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from gateway.admin.json_body import parse_body
from gateway.agents.tokens import mint
from gateway.config import Settings
from gateway.http.appkeys import JWT_SECRET, SETTINGS, TRUSTED_PROXIES
from gateway.http.forwarded import public_base_url
from gateway.http.operation import Answer, Body, Operation
from gateway.http.routes import Route
from gateway.times import format_seconds

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 86400
WEBSOCKET_PATH = "/ws"

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AgentAuthRequest(BaseModel):
    """`PUT /agent/auth`: who the token is for and what it grants."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"agentId": "agent-1", "name": "Ana", "hubIds": ["sms-hub"]}]
        },
    )

    agent_id: Identifier = Field(alias="agentId")
    name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="Shown to other agents in presence."
    )
    hub_ids: list[Identifier] = Field(alias="hubIds", min_length=1, max_length=1000)
    conversation_ids: list[Identifier] | None = Field(
        None,
        alias="conversationIds",
        min_length=1,
        max_length=10000,
        description="Only these conversations of the hubs; absent: every conversation.",
    )
    """Omitted: every conversation of the hubs. An empty list would grant nothing: refused."""
    ttl_seconds: int = Field(DEFAULT_TTL_SECONDS, alias="ttlSeconds", ge=1, le=MAX_TTL_SECONDS)


class AgentAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwt: str = Field(description="The agent token (HS256), for `GET /ws`.")
    websocketUrl: str = Field(description="Where the agent's websocket connects.")
    agentId: str
    hubIds: list[str]
    expiresAt: AwareDatetime


class AgentAuthResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agentAuth: AgentAuth


def websocket_url(settings: Settings, request: web.Request) -> str:
    """`GATEWAY_PUBLIC_URL` when set (what agents reach through a proxy), else the URL a
    trusted proxy says was called, else this host; `ws` for `http`, `wss` for `https`."""
    base = public_base_url(request, settings, request.app[TRUSTED_PROXIES])
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + WEBSOCKET_PATH


async def put_agent_auth(request: web.Request) -> web.Response:
    body = await parse_body(request, AgentAuthRequest)
    settings = request.app[SETTINGS]
    issued_at = int(time.time())
    hub_ids = list(dict.fromkeys(body.hub_ids))
    token = mint(
        request.app[JWT_SECRET],
        agent_id=body.agent_id,
        name=body.name,
        hub_ids=hub_ids,
        conversation_ids=body.conversation_ids,
        audience=settings.jwt_audience,
        issued_at=issued_at,
        ttl_seconds=body.ttl_seconds,
    )
    agent_auth = {
        "jwt": token,
        "websocketUrl": websocket_url(settings, request),
        "agentId": body.agent_id,
        "hubIds": hub_ids,
        "expiresAt": format_seconds(issued_at + body.ttl_seconds),
    }
    return web.json_response({"agentAuth": agent_auth})


ROUTES = (
    Route(
        "PUT",
        "/agent/auth",
        put_agent_auth,
        access="admin",
        name="putAgentAuth",
        summary="Mint an agent's websocket token and URL.",
        operation=Operation(
            "Agents",
            (Answer(200, "The token and where to use it.", AgentAuthResponse),),
            body=Body(AgentAuthRequest),
            description="The token carries `sub` (the agent), `hubs`, optionally "
            "`conversations` and `name`, `aud` and `exp`; see the websocket reference.",
        ),
    ),
)
