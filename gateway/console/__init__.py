"""The agent console (`GET /console`) and the browser client library it is built on
(`GET /gateway-client.js`): static files shipped in the package, served as they are."""
