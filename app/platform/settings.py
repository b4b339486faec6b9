"""Reading the app's settings from inside a use case."""
from __future__ import annotations

from flask import current_app


def setting(name: str) -> int:
    """A whole-number setting of the running app (config/__init__.py declares each with its default).

    Read at each call, not at import: tests and operators change a threshold on a live app.
    """
    return int(current_app.config[name])
