"""Agent authorization: JWTs that scope an agent's websocket to hubs and conversations."""
