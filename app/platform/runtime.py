"""What a serving process does once the app is built.

``freeze_startup_heap``: the app's modules, schemas, mappers and routes (hundreds of thousands of
objects that live as long as the process) are moved out of the garbage collector's generations
(``gc.freeze``). Without it every full collection walks them all: in a report's worker that was a
pause of ~150 ms every few requests (2026-12-03, bench/reports.py, the stock summary by region: 25
calls, four pauses of 143-175 ms; after the freeze the longest was 7 ms). Called by wsgi.py (under
gunicorn's preload, in the master before the fork, so the workers share those pages unwritten) and by
the benchmarks' app, never by the tests' apps: frozen objects are never freed, and the test suite
builds many apps.
"""
from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    gc.collect()  # what start-up left as garbage goes first; only live objects are frozen
    gc.freeze()
