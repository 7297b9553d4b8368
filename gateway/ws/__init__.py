"""Agent websockets: authenticated sessions, one fan-out loop, resume and presence."""
