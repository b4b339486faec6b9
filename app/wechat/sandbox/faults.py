"""Fault injection: make the sandbox misbehave on demand, as WeChat sometimes does.

A fault is armed for an operation name ("token", "jscode2session", "transfer_bills.create",
"callback", ...) and fires on that operation's next N calls. Each endpoint asks
`take_fault(state, operation)` and turns the fault into its API's own failure (an errcode, a
SYSTEMERROR body, an XML FAIL, a late or missing callback).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field

from app.wechat.sandbox.state import SandboxState

# What a fault does. Request kinds apply to any API; callback kinds to WeChat Pay's callbacks.
TIMEOUT = "timeout"  # sleep longer than the client waits, then answer (the call did happen)
SYSTEM_ERROR = "system_error"  # WeChat is busy: errcode -1 / SYSTEMERROR
FAIL = "fail"  # a business failure (errcode or err_code given with the fault)
RATE_LIMITED = "rate_limited"  # errcode 45011
HIGH_RISK = "high_risk"  # errcode 40226
HTTP_500 = "http_500"  # a bare 500 with no WeChat body
DUPLICATE = "duplicate"  # the callback is delivered twice
OUT_OF_ORDER = "out_of_order"  # callbacks arrive in a different order than the states changed
NEVER = "never"  # the callback never comes
BAD_SIGNATURE = "bad_signature"  # WeChat Pay: the answer is changed after signing (a forgery)
UNSIGNED = "unsigned"  # WeChat Pay: the answer carries no signature headers

KINDS = frozenset({TIMEOUT, SYSTEM_ERROR, FAIL, RATE_LIMITED, HIGH_RISK, HTTP_500, DUPLICATE,
                   OUT_OF_ORDER, NEVER, BAD_SIGNATURE, UNSIGNED})

# Long enough to outlast the default WECHAT_TIMEOUT_SECONDS (5); tests pass a shorter one.
DEFAULT_DELAY_SECONDS = 6.0

# errcode/errmsg of the mini-program API for the kinds that have one (as WeChat words them).
MINIPROGRAM_ERRORS = {
    SYSTEM_ERROR: (-1, "system error"),
    RATE_LIMITED: (45011, "api minute-quota reach limit  mustslower  retry next minute"),
    HIGH_RISK: (40226, "invalid user: high risk user"),
    FAIL: (48001, "api unauthorized"),
}

_ids = itertools.count(1)


@dataclass
class Fault:
    operation: str
    kind: str
    times: int = 1  # calls left to hit
    delay: float = DEFAULT_DELAY_SECONDS  # seconds, for "timeout"
    errcode: int | str | None = None  # overrides the kind's default code (e.g. err_code "NOTENOUGH")
    errmsg: str | None = None
    http_status: int | None = None  # WeChat Pay "fail": the 4xx it answers with (403 unless given)
    id: int = field(default_factory=lambda: next(_ids))

    def as_dict(self) -> dict:
        return asdict(self)

    def sleep(self) -> None:
        """Stall as a slow WeChat would (for "timeout")."""
        time.sleep(self.delay)

    def miniprogram_error(self) -> dict:
        """The mini-program API's JSON error body for this fault."""
        errcode, errmsg = MINIPROGRAM_ERRORS.get(self.kind, MINIPROGRAM_ERRORS[FAIL])
        return {"errcode": self.errcode if self.errcode is not None else errcode,
                "errmsg": self.errmsg or errmsg}


def _registry(state: SandboxState) -> list[Fault]:
    with state.lock:
        if not hasattr(state, "faults"):
            state.faults = []
        return state.faults


def inject(state: SandboxState, operation: str, kind: str, *, times: int = 1,
           delay: float | None = None, errcode: int | str | None = None,
           errmsg: str | None = None, http_status: int | None = None) -> Fault:
    """Arm a fault for the operation's next `times` calls."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(sorted(KINDS))}")
    if times < 1:
        raise ValueError("times must be at least 1")
    if http_status is not None and not 400 <= http_status < 500:
        raise ValueError("http_status is a 4xx")
    fault = Fault(operation=operation, kind=kind, times=times, errcode=errcode, errmsg=errmsg, http_status=http_status,
                  delay=DEFAULT_DELAY_SECONDS if delay is None else float(delay))
    with state.lock:
        _registry(state).append(fault)
    return fault


def take_fault(state: SandboxState, operation: str) -> Fault | None:
    """The fault armed for this operation, if any, spending one of its hits."""
    with state.lock:
        faults = _registry(state)
        for fault in faults:
            if fault.operation == operation:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                return fault
    return None


def armed_faults(state: SandboxState) -> list[Fault]:
    with state.lock:
        return list(_registry(state))


def clear_faults(state: SandboxState, operation: str | None = None) -> int:
    """Disarm every fault (or those of one operation); answers how many were removed."""
    with state.lock:
        faults = _registry(state)
        keep = [f for f in faults if operation is not None and f.operation != operation]
        removed = len(faults) - len(keep)
        faults[:] = keep
        return removed
