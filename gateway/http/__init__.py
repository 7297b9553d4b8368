"""The HTTP shell: aiohttp app, route table and admin key check, middleware, error
rendering, operations routes and the server process."""
