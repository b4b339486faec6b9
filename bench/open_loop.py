"""An open-loop load generator: HTTP/1.1 requests sent at a fixed rate whatever the answers.

A closed loop (wrk: each connection sends its next request when the last one is answered) slows
down with the server, so a stalled server is sent fewer requests and the requests that would have
waited are never measured (coordinated omission). Here request i is due at ``start + i / rate``; at
that moment it takes an idle keep-alive connection, or opens one (up to ``max_connections``; past
the cap it waits for one to come free), and its latency runs from the moment it was DUE to the last
byte of its answer: the wait for a connection, and the generator's own lateness, count.

The generator reports how late it fired the requests (``lag``): a starved generator (a busy CPU)
shows there, and its lateness is already inside the latencies, never hidden from them.
"""
from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MS = 1000
# The longest answer head (status line and headers) read; bodies are read by their Content-Length or
# their chunks, never by looking for a delimiter, so a body may hold anything.
HEAD_LIMIT = 64 * 1024


def format_post(url: str, body: str, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 keep-alive POST of body to url, ready to write (made once, sent many times)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    data = body.encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank p-th percentile of ordered values (0 for none): p99.9 of 6,000 is the 6th highest."""
    if not ordered:
        return 0.0
    rank = math.ceil(round(p / 100 * len(ordered), 9))  # 99.9 / 100 x 1,000 is 999.0000000000001 in floats
    return ordered[max(0, rank - 1)]


@dataclass
class Result:
    """What one open-loop run measured; latencies and lags in seconds, sorted."""

    rate: float
    seconds: float
    scheduled: int
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    duration: float = 0.0  # from the first request's due time to the last answer
    connections: int = 0  # opened in all, the pre-opened ones included
    waited_for_connection: int = 0  # requests that found the pool at its cap

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def achieved(self) -> float:
        """Answers per second, over the time from the first due request to the last answer."""
        return self.completed / self.duration if self.duration else 0.0

    @property
    def non2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * MS

    def describe(self, name: str) -> str:
        """Two lines: rates and percentiles, then errors, statuses and the generator's own lateness."""
        text = (f"  {name:<11}offered {self.rate:7.1f} req/s, achieved {self.achieved:7.1f} "
                f"({self.completed:,} of {self.scheduled:,} answered in {self.duration:.1f} s)  "
                f"p50 {self.ms(50):6.1f} ms  p90 {self.ms(90):6.1f}  p99 {self.ms(99):6.1f}  "
                f"p99.9 {self.ms(99.9):6.1f}  max {self.ms(100):7.1f} ms")
        errors = ", ".join(f"{n:,} {kind}" for kind, n in self.errors.most_common()) or "no errors"
        statuses = ", ".join(f"{n:,} x {status}" for status, n in sorted(self.statuses.items()))
        return (text + f"\n  {'':<11}{errors}; answers {statuses or 'none'}; {self.connections} connections"
                + (f", {self.waited_for_connection:,} requests waited for one (cap)" if self.waited_for_connection
                   else "")
                + f"; generator late by p50 {percentile(self.lags, 50) * MS:.2f} ms, "
                  f"p99 {percentile(self.lags, 99) * MS:.2f} ms, max {percentile(self.lags, 100) * MS:.1f} ms")


class _Stale(Exception):
    """A kept-alive connection the server had closed: nothing of the request was answered."""


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response to its last byte: (status, whether the connection may be kept)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise _Stale from error
        raise
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF; the last one is empty
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        await reader.read()  # the body runs to the end of the connection
        keep = False
    return int(status), keep


async def run(url: str, requests: list[bytes], *, rate: float, seconds: float, max_connections: int = 512,
              preopen: int = 0, timeout: float = 10.0) -> Result:
    """Send requests[i % len(requests)] at start + i / rate for seconds to url's host; what was measured.

    preopen connections are opened before the first request is due (as a closed loop would hold them),
    so the first requests do not all pay for a connect; more are opened when all are busy.
    """
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    loop = asyncio.get_running_loop()
    result = Result(rate=rate, seconds=seconds, scheduled=int(rate * seconds))
    idle: deque = deque()  # oldest first: the load spreads over every connection, as many clients would
    slots = asyncio.Semaphore(max_connections)
    latencies, lags = result.latencies, result.lags

    async def connect():
        result.connections += 1
        return await asyncio.open_connection(host, port, limit=HEAD_LIMIT)

    for _ in range(preopen):
        idle.append(await connect())

    async def exchange(payload: bytes, held: list) -> tuple[int, bool]:
        """Write payload on an idle or a new connection (put in held) and read its answer.

        An idle connection the server closed meanwhile (its keep-alive timeout) answers nothing at all:
        the request goes on the next one, as an HTTP client does.
        """
        while idle:
            held[:] = [idle.popleft()]
            reader, writer = held[0]
            try:
                writer.write(payload)
                await writer.drain()
                return await _read_answer(reader)
            except (_Stale, ConnectionResetError, BrokenPipeError):
                writer.close()
        held[:] = [await connect()]
        reader, writer = held[0]
        writer.write(payload)
        await writer.drain()
        try:
            return await _read_answer(reader)
        except _Stale as error:
            raise ConnectionResetError("closed without an answer") from error

    last_answer = 0.0

    async def one(payload: bytes, due: float) -> None:
        nonlocal last_answer
        if slots.locked():
            result.waited_for_connection += 1
        async with slots:
            held: list = []
            try:
                async with asyncio.timeout(timeout):
                    status, keep = await exchange(payload, held)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                    TimeoutError) as error:
                result.errors[type(error).__name__] += 1
                if held:
                    held[0][1].close()
                return
            last_answer = loop.time()
            latencies.append(last_answer - due)
            result.statuses[status] += 1
            if keep:
                idle.append(held[0])
            else:
                held[0][1].close()

    tasks = set()
    start = loop.time() + 0.01
    for i in range(result.scheduled):
        due = start + i / rate
        delay = due - loop.time()
        await asyncio.sleep(max(delay, 0))  # zero still lets the answers in between two late sends
        lags.append(max(loop.time() - due, 0.0))
        task = asyncio.create_task(one(requests[i % len(requests)], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.wait(set(tasks))
    result.duration = max(last_answer - start, 1e-9) if latencies else 0.0
    for reader, writer in idle:
        writer.close()
    latencies.sort()
    lags.sort()
    return result
