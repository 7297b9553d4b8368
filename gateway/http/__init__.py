"""The HTTP shell: aiohttp app, middleware, operations routes and the server process."""
