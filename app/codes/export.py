"""Code packs: a batch's codes streamed into a zip of CSV files, optionally AES-encrypted.

Pure of Flask and the database, so the benchmark measures exactly what the export job runs.
Memory stays flat in the batch size: rows are produced in chunks by a background thread while
the calling thread compresses and writes them (zlib releases the GIL, so both cores work).
"""
from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pyzipper

from app import gs1
from app.codes.format import CodeKeyring

HEADER = "code,url,digital_link_url,hidden_code,level,batch"
MIN_PASSWORD_LENGTH = 12
# Rows per chunk handed from the producer thread to the writer (~1.2 MB of CSV): small chunks
# stay in the CPU cache, which measurably speeds up the producer, and keep memory flat.
CHUNK_ROWS = 8192
COMPRESS_LEVEL = 1
# While a pack is written the producer thread never lets go of the GIL on its own, so each time
# the writer comes back from zlib or a file write it waits a whole switch interval (5 ms by
# default) for it. The export worker, a process of its own, shortens the interval for its whole
# life (the web process is left alone: its request threads are better served by the default).
EXPORT_SWITCH_INTERVAL = 0.0005


def tune_interpreter_for_exports() -> None:
    """Shorten the thread switch interval of this process; call it in dedicated export workers only."""
    sys.setswitchinterval(min(sys.getswitchinterval(), EXPORT_SWITCH_INTERVAL))


@dataclass(frozen=True)
class PackSpec:
    """Everything an export needs to know about a batch."""

    batch_no: str
    level: str
    key_version: int
    serial_start: int
    count: int
    url_prefix: str  # "https://<domain>/<prefix>/"
    digital_link_prefix: str | None = None  # "https://<domain>/01/<GTIN-14>/21/" when there is a GTIN
    sscc_link_prefix: str | None = None  # "https://<domain>/00/" for pallets with an SSCC
    hidden_code_digits: int | None = None
    sscc_company_prefix: str | None = None
    sscc_start: int | None = None


@dataclass(frozen=True)
class PackResult:
    rows: int
    files: int
    size: int
    sha256: str


def sscc_of(*, company_prefix: str, number: int) -> str:
    """SSCC-18 of a pallet number: its leading digit is the extension digit, the rest the serial reference."""
    width = 16 - len(company_prefix)
    return gs1.sscc(extension=number // 10**width, company_prefix=company_prefix,
                    serial_reference=number % 10**width)


def sscc_capacity(company_prefix: str) -> int:
    """How many SSCC numbers a company prefix has (extension digit + serial reference)."""
    return 10 ** (17 - len(company_prefix))


def file_name(batch_no: str, index: int) -> str:
    return f"batch-{batch_no}-{index:04d}.csv"


def _file_chunks(keyring: CodeKeyring, spec: PackSpec, first: int, count: int) -> Iterator[tuple[int, bytes]]:
    """(rows, CSV bytes) of rows first..first+count-1 of the batch, in chunks."""
    url, dl = spec.url_prefix, spec.digital_link_prefix
    tail = f"{spec.level},{spec.batch_no}"
    chunks = keyring.code_chunks(start=spec.serial_start + first, count=count,
                                 version=spec.key_version, hidden_digits=spec.hidden_code_digits,
                                 chunk_size=CHUNK_ROWS)
    if spec.sscc_start is not None:
        # Pallet batches are small; clarity wins over speed here.
        number = spec.sscc_start + first
        for codes, hidden in chunks:
            lines = []
            for i, code in enumerate(codes):
                sscc = sscc_of(company_prefix=spec.sscc_company_prefix, number=number + i)
                lines.append(f"{code},{url}{code},{spec.sscc_link_prefix}{sscc},"
                             f"{hidden[i] if hidden else ''},{tail},{sscc}\n")
            number += len(codes)
            yield len(codes), "".join(lines).encode()
        return
    # One f-string per row: this is the export's inner loop.
    for codes, hidden in chunks:
        if hidden is None and dl:
            text = "".join([f"{c},{url}{c},{dl}{c},,{tail}\n" for c in codes])
        elif hidden is None:
            text = "".join([f"{c},{url}{c},,,{tail}\n" for c in codes])
        elif dl:
            text = "".join([f"{c},{url}{c},{dl}{c},{h},{tail}\n" for c, h in zip(codes, hidden)])
        else:
            text = "".join([f"{c},{url}{c},,{h},{tail}\n" for c, h in zip(codes, hidden)])
        yield len(codes), text.encode()


def _produce(keyring: CodeKeyring, spec: PackSpec, file_rows: int, out: queue.Queue,
             stop: threading.Event) -> None:
    """Producer thread: a file name, then its chunks, per file; None at the end."""
    header = (HEADER + (",sscc" if spec.sscc_start is not None else "") + "\n").encode()
    try:
        for index, first in enumerate(range(0, spec.count, file_rows), start=1):
            out.put(file_name(spec.batch_no, index))
            out.put((0, header))
            for item in _file_chunks(keyring, spec, first, min(file_rows, spec.count - first)):
                if stop.is_set():
                    return
                out.put(item)
        out.put(None)
    except BaseException as exc:  # handed to the writer, which re-raises it
        out.put(exc)


def _open_zip(path: Path, password: str | None):
    if password is None:
        return zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    archive = pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED,
                                  compresslevel=COMPRESS_LEVEL)
    archive.setpassword(password.encode())
    archive.setencryption(pyzipper.WZ_AES, nbits=256)
    return archive


def write_pack(*, keyring: CodeKeyring, spec: PackSpec, path: str | Path, file_rows: int,
               password: str | None = None, progress: Callable[[int], None] | None = None,
               progress_seconds: float = 1.0) -> PackResult:
    """Write the batch's code pack to path (atomically: a .part file renamed at the end).

    progress(rows_done) is called from the calling thread at most every progress_seconds.
    """
    if file_rows < 1:
        raise ValueError("file_rows must be at least 1")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a code pack password has at least {MIN_PASSWORD_LENGTH} characters")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, args=(keyring, spec, file_rows, chunks, stop),
                                name=f"code-pack-{spec.batch_no}", daemon=True)
    rows = files = 0
    last_report = time.monotonic()
    producer.start()
    try:
        with _open_zip(partial, password) as archive:
            entry = None
            while (item := chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, str):
                    if entry is not None:
                        entry.close()
                    entry = archive.open(item, "w", force_zip64=True)
                    files += 1
                    continue
                entry.write(item[1])
                rows += item[0]
                if progress is not None and time.monotonic() - last_report >= progress_seconds:
                    progress(rows)
                    last_report = time.monotonic()
            if entry is not None:
                entry.close()
    except BaseException:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            try:
                chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        partial.unlink(missing_ok=True)
        raise
    producer.join()
    os.replace(partial, path)
    if progress is not None:
        progress(rows)
    return PackResult(rows=rows, files=files, size=path.stat().st_size, sha256=sha256_of(path))


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
