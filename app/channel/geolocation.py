"""A position's region, offline: the district whose centroid is nearest (a consumer scan's place).

The centroids come from the process's region table (``app.masterdata.region_cache``) and are measured
once per CELL_DEGREES cell a scan falls in, so a lookup measures a handful of districts, not all of them.
"""
from __future__ import annotations

import math

from app.masterdata import region_cache
from app.masterdata.models import RegionLevel

# Beyond this from every centroid, the point is not in China (or the data has no district there).
MAX_DISTANCE_KM = 300.0
_EARTH_KM = 6371.0


def _district_centroids() -> tuple[list[float], list[tuple[float, int, float, float, str]]]:
    """Districts (and cities without districts) with coordinates, by latitude.

    (the latitudes in radians, ascending; for each: (lat rad, position in the table, lon rad, cos lat, code)).
    Computed once per region table (app.masterdata.region_cache), so a reload of the regions renews them.
    """
    regions = region_cache.table()
    found = regions.derived.get("district_centroids")
    if found is None:
        parents = {row.parent_code for row in regions.rows.values()}
        points = []
        for code, row in regions.rows.items():
            if row.longitude is None or row.latitude is None:
                continue
            if row.level is RegionLevel.DISTRICT or (row.level is RegionLevel.CITY and code not in parents):
                lat = math.radians(row.latitude)
                points.append((lat, len(points), math.radians(row.longitude), math.cos(lat), code))
        points.sort()
        found = regions.derived["district_centroids"] = ([p[0] for p in points], points)
    return found


def region_of(latitude: float | None, longitude: float | None) -> str | None:
    """The adcode of the district whose centroid is nearest to a position (offline), or None.

    An approximation: districts are not circles, so a point near a boundary may be given the
    neighbour whose centroid is closer. Good enough to tell one territory from another, which are
    cities and provinces far more often than districts. Points more than MAX_DISTANCE_KM from every
    centroid (abroad, at sea, or a (0, 0) fix) answer None.
    """
    if latitude is None or longitude is None:
        return None
    try:
        latitude, longitude = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0) or math.isnan(latitude + longitude):
        return None
    lat, lon = math.radians(latitude), math.radians(longitude)
    cos_here = math.cos(lat)
    best, best_at, best_code = math.inf, -1, None
    # Equirectangular distance (squared): exact enough at these distances, and cheap. Only the centroids
    # that can be nearest to some point of the position's cell are measured (_cell_candidates); among
    # equally near ones the first in the table wins, as it always did.
    for d_lat, at, d_lon, cos_lat, code in _cell_candidates(latitude, longitude):
        x = (lon - d_lon) * (cos_lat + cos_here) / 2
        y = lat - d_lat
        distance = x * x + y * y
        if distance < best or (distance == best and at < best_at):
            best, best_at, best_code = distance, at, code
    if best_code is None or math.sqrt(best) * _EARTH_KM > MAX_DISTANCE_KM:
        return None
    return best_code


CELL_DEGREES = 0.25


def _cell_candidates(latitude: float, longitude: float) -> list[tuple]:
    """The centroids that can be the nearest to some point of the CELL_DEGREES cell holding this position:
    every centroid whose least distance to the cell is no more than the least of all centroids' greatest
    distances to it (so the nearest to any point of the cell is among them, ties included). Found the first
    time a scan falls in the cell (all centroids measured once), then kept with the region table."""
    row, column = math.floor(latitude / CELL_DEGREES), math.floor(longitude / CELL_DEGREES)
    regions = region_cache.table()
    cells = regions.derived.setdefault("district_cells", {})
    found = cells.get((row, column))
    if found is not None:
        return found
    a0, a1 = math.radians(row * CELL_DEGREES), math.radians((row + 1) * CELL_DEGREES)
    b0, b1 = math.radians(column * CELL_DEGREES), math.radians((column + 1) * CELL_DEGREES)
    cos_a0, cos_a1 = math.cos(a0), math.cos(a1)
    cos_low = min(cos_a0, cos_a1)
    cos_high = 1.0 if a0 <= 0.0 <= a1 else max(cos_a0, cos_a1)
    bounds = []
    for centroid in _district_centroids()[1]:
        d_lat, _, d_lon, cos_lat, _ = centroid
        y_low, y_high = max(0.0, a0 - d_lat, d_lat - a1), max(abs(a0 - d_lat), abs(a1 - d_lat))
        x_low, x_high = max(0.0, b0 - d_lon, d_lon - b1), max(abs(b0 - d_lon), abs(b1 - d_lon))
        x_low *= (cos_lat + cos_low) / 2
        x_high *= (cos_lat + cos_high) / 2
        bounds.append((x_low * x_low + y_low * y_low, x_high * x_high + y_high * y_high, centroid))
    ceiling = min((high for _, high, _ in bounds), default=math.inf) * (1 + 1e-9)
    found = cells[(row, column)] = [centroid for low, _, centroid in bounds if low <= ceiling]
    return found


def reset_region_cache() -> None:
    """Forget this process's regions and district centroids (the next use reads them again)."""
    region_cache.forget()
