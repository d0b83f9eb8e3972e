"""The HTTP service: Litestar app, signed-request auth, routes, web console and CLI."""
