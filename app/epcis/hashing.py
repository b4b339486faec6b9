"""eventID per the EPCIS event-hash algorithm (CBV 2.0, "ni:///sha-256;...?ver=CBV2.0").

The package epcis-event-hash-generator implements it over PyLD. Two things are fixed here: JSON-LD
contexts are served only from the copies the package ships (a document naming any other context is
refused, never fetched: no outside host is called), and the package's parser keeps module-level
state, so one hash computation runs at a time.
"""
from __future__ import annotations

import copy
import json
import logging
import threading
from functools import lru_cache
from importlib import resources

from epcis_event_hash_generator import hash_generator, json_to_py
from pyld import jsonld

log = logging.getLogger(__name__)

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# The contexts the package ships a copy of (the 2.0.0 context, and the draft one some partners name).
_SHIPPED = {
    EPCIS_CONTEXT: "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld":
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld",
}
KNOWN_CONTEXTS = frozenset(_SHIPPED)

_lock = threading.Lock()


class HashFailed(ValueError):
    """The events could not be read for their hash (a context JSON-LD refuses, a value it can't take)."""


class UnknownContext(HashFailed):
    """A document names a JSON-LD context we hold no copy of (it would have to be fetched)."""


@lru_cache(maxsize=None)
def _context_document(url: str) -> str:
    return (resources.files("epcis_event_hash_generator") / _SHIPPED[url]).read_text(encoding="utf-8")


def _offline_loader(url, options=None):
    if url not in KNOWN_CONTEXTS:
        raise jsonld.JsonLdError(f"JSON-LD context {url} is not one we hold; inline it.",
                                 "jsonld.LoadDocumentError", code="loading document failed")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": json.loads(_context_document(url))}


def remote_contexts(context) -> list[str]:
    """The context URLs a document's @context names that we hold no copy of."""
    items = context if isinstance(context, list) else [context]
    return [c for c in items if isinstance(c, str) and c not in KNOWN_CONTEXTS]


def event_ids(context, events: list[dict]) -> list[str]:
    """The event hash of each event (its eventID, recordTime and errorDeclaration are left out)."""
    if not events:
        return []
    unknown = remote_contexts(context)
    if unknown:
        raise UnknownContext(f"JSON-LD context {unknown[0]} is not one we hold; inline it.")
    document = {"@context": copy.deepcopy(context), "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2000-01-01T00:00:00Z", "epcisBody": {"eventList": copy.deepcopy(events)}}
    with _lock:
        jsonld.set_document_loader(_offline_loader)
        json_to_py._namespaces.clear()  # the package gathers prefixes in a module global
        try:
            parsed = json_to_py.event_list_from_epcis_document_json(document)
            prehashes = hash_generator.derive_prehashes_from_events(parsed)
        except Exception as error:  # a third party's parser on offline data (no I/O to hide): the events are
            # unreadable to it, a 422 to the partner; logged, so a fault of the package itself shows
            log.warning("EPCIS event hashing refused a document", exc_info=True)
            raise HashFailed(f"The events could not be hashed: {str(error)[:200]}") from error
    if len(prehashes) != len(events):  # the package logs and skips an event it cannot read
        raise HashFailed("An event could not be hashed.")
    return hash_generator.calculate_hashes_from_pre_hashes(prehashes)
