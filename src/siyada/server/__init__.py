"""The HTTP server: ``siyada serve``."""

from siyada.server.app import Limits, create_app

__all__ = ["Limits", "create_app"]
