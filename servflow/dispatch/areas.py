"""Outlets' service areas as GeoJSON polygons (pure, with shapely): which area holds a
point, and GeoJSON FeatureCollections in and out.

Coordinates are GeoJSON's: [longitude, latitude].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from servflow.platform.errors import invalid_field

MAX_FEATURES = 5000
MAX_POINTS = 100_000
"""Bounded input: vertices in one import."""
KINDS = ("Polygon", "MultiPolygon")


def _points(geometry: Any) -> int:
    if isinstance(geometry, list):
        return (
            sum(_points(g) for g in geometry) if geometry and isinstance(geometry[0], list) else 1
        )
    return 0


def parse_geometry(geometry: Any, field: str) -> BaseGeometry:
    """A valid Polygon or MultiPolygon from its GeoJSON.

    Raises:
        Invalid: naming `field`.
    """
    if not isinstance(geometry, dict) or geometry.get("type") not in KINDS:
        raise invalid_field(field, "must be a GeoJSON Polygon or MultiPolygon")
    try:
        parsed = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError):
        raise invalid_field(field, "coordinates are not a polygon") from None
    if parsed.is_empty or not parsed.is_valid:
        raise invalid_field(field, "the polygon is empty or crosses itself")
    minx, miny, maxx, maxy = parsed.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise invalid_field(field, "coordinates are [longitude, latitude] in degrees")
    return parsed


def parse_features(collection: Any) -> list[tuple[str, dict[str, Any]]]:
    """(outlet code, geometry) of each feature of a FeatureCollection, checked.

    Raises:
        Invalid: naming the feature's field.
    """
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise invalid_field("type", "must be a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list) or len(features) > MAX_FEATURES:
        raise invalid_field("features", f"a list of at most {MAX_FEATURES} features")
    total = 0
    parsed = []
    for i, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, dict) else None
        code = props.get("outlet") if isinstance(props, dict) else None
        if not isinstance(code, str) or not code:
            raise invalid_field(f"features[{i}].properties.outlet", "the outlet's code")
        geometry = feature.get("geometry")
        total += _points(geometry.get("coordinates") if isinstance(geometry, dict) else None)
        if total > MAX_POINTS:
            raise invalid_field("features", f"more than {MAX_POINTS} vertices")
        parse_geometry(geometry, f"features[{i}].geometry")
        parsed.append((code, geometry))
    return parsed


@lru_cache(maxsize=4096)
def _cached(text: str) -> BaseGeometry:
    return shape(json.loads(text))


def containing(areas: Sequence[tuple[int, dict[str, Any]]], lat: float, lng: float) -> int | None:
    """The id of the first area (by the order given) holding the point, or None."""
    point = Point(lng, lat)
    for key, geometry in areas:
        if _cached(json.dumps(geometry, sort_keys=True)).covers(point):
            return key
    return None


def feature_collection(areas: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """A FeatureCollection of (outlet code, outlet name, geometry)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"outlet": code, "name": name},
                "geometry": geometry,
            }
            for code, name, geometry in areas
        ],
    }
