"""The ASGI entry point for servers that import an app: settings come from the environment."""

from __future__ import annotations

from litestar import Litestar

from api import lifeline
from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings


def app_from_env() -> Litestar:
    lifeline.die_with_parent()
    configure_logging()
    return create_app(Settings.from_env())
