"""What the sandbox remembers, as WeChat would: tokens, sessions, messages, transfer bills, faults."""
from __future__ import annotations

import threading


class SandboxState:
    """In-memory state of one sandbox; each part keeps its data under its own attribute."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
