"""The HTTP face of ECG Desk: a FastAPI application over the workflow (``create_app``).

Routers per area live in :mod:`ecgdesk.service.routers`; the typed dependencies (store, current user,
permission check, CSRF) in :mod:`ecgdesk.service.deps`. Routes parse, authenticate, call one workflow
function and return a schema model of :mod:`ecgdesk.workflow.schemas`: no logic lives in a route.
"""

from ecgdesk.service.app import create_app

__all__ = ["create_app"]
