"""The settlement port: what a payout's ending means to the domain that queued it.

Payouts know how to pay, not what they pay for. The domain that queues a payout for a purpose
(campaigns: a prize, retail: a withdrawal) registers one handler for that purpose, and the payout
queue calls it, inside its own transaction, when the payout ends: paid, failed or cancelled (its
money goes back), or paid after its money went back (the money is taken again). ``app.bootstrap``
wires the handlers at start-up and refuses to start when a purpose has none, so no payout can end
without its domain hearing of it; nothing in payouts imports the domains that react.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.payouts.models import Payout, PayoutPurpose


@dataclass(frozen=True)
class Handler:
    """What one purpose's domain does when its payouts end (each called with the locked payout)."""

    paid: Callable[[Payout], None]  # WeChat paid it
    returned: Callable[[Payout], None]  # it failed or was cancelled: its money goes back where it came from
    reclaimed: Callable[[Payout], bool]  # paid after its money went back: take it again; False when gone
    region: Callable[[Payout], str | None]  # where its money was won, for the rollups (None: nowhere in particular)


class HandlersIncomplete(RuntimeError):
    """A purpose has no handler, or two: the app must not start (a payout's ending would go unheard)."""


class Registry:
    """The handler of each payout purpose, one each."""

    def __init__(self) -> None:
        self._handlers: dict[PayoutPurpose, Handler] = {}

    def register(self, purpose: PayoutPurpose, handler: Handler) -> None:
        """Name the handler of a purpose; a second one for the same purpose is refused."""
        if purpose in self._handlers:
            raise HandlersIncomplete(f"payout purpose {purpose.value!r} has two settlement handlers")
        self._handlers[purpose] = handler

    def check_complete(self) -> None:
        """Refuse a registry where some purpose has no handler."""
        missing = [purpose.value for purpose in PayoutPurpose if purpose not in self._handlers]
        if missing:
            raise HandlersIncomplete(f"payout purposes without a settlement handler: {', '.join(missing)}")

    def handler(self, purpose: PayoutPurpose) -> Handler:
        try:
            return self._handlers[purpose]
        except KeyError:
            raise HandlersIncomplete(f"payout purpose {purpose.value!r} has no settlement handler "
                                     "(app.bootstrap wires them in create_app)") from None


_installed = Registry()


def install(registry: Registry) -> None:
    """Make a complete registry the one the payout queue calls (app.bootstrap, at start-up)."""
    global _installed
    registry.check_complete()
    _installed = registry


def handler(purpose: PayoutPurpose) -> Handler:
    """The installed handler of a purpose."""
    return _installed.handler(purpose)
