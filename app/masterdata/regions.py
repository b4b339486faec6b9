"""China's administrative divisions: the dataset shipped in app/masterdata/data/regions.csv."""
from __future__ import annotations

import csv
from importlib import resources

import sqlalchemy as sa

from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import region_cache
from app.masterdata.models import Region, RegionLevel
from app.platform import after_commit


def read_dataset() -> list[dict]:
    """The rows of the shipped CSV as column values (see data/README.md for its origin)."""
    source = resources.files("app.masterdata") / "data" / "regions.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        return [
            {"code": row["code"], "name": row["name"], "level": RegionLevel(row["level"]),
             "parent_code": row["parent_code"] or None,
             "longitude": float(row["longitude"]) if row["longitude"] else None,
             "latitude": float(row["latitude"]) if row["latitude"] else None}
            for row in csv.DictReader(handle)
        ]


def load_regions(*, actor: Actor) -> dict[str, int]:
    """Upsert the shipped dataset; rows already equal are left alone, so a second run changes nothing."""
    existing = {region.code: region for region in db.session.scalars(sa.select(Region))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in read_dataset():
        region = existing.get(row["code"])
        if region is None:
            db.session.add(Region(**row))
            counts["created"] += 1
        elif apply_changes(region, row):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    if counts["created"] or counts["updated"]:
        # Every process's region cache reloads once this transaction commits.
        after_commit.on_commit(region_cache.changed, key="region_cache")
        audit(actor, "regions.load", None, {"created": [None, counts["created"]],
                                            "updated": [None, counts["updated"]]},
              entity_type="regions", entity_id="dataset")
    return counts
