"""Routers per area; each module has a ``router`` listed in :data:`ecgdesk.service.app.ROUTER_MODULES`."""
