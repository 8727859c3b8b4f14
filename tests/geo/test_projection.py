"""Projection to metres in a named EPSG, and back; a missing or unknown CRS is an error."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon, box

from qingzhi.geo.projection import (
    DEFAULT_EPSG,
    ProjectionError,
    area_km2,
    check_crs,
    distance_m,
    project_geometry,
    to_lonlat,
    to_metres,
    unproject_geometry,
)


def test_default_is_utm_48n_and_round_trips() -> None:
    assert DEFAULT_EPSG == 32648
    lon, lat = np.array([107.3, 107.6]), np.array([30.0, 30.5])
    x, y = to_metres(lon, lat)
    assert 500_000 < float(x[0]) < 800_000  # east of the 105°E central meridian
    assert 3_300_000 < float(y[0]) < 3_400_000
    lon2, lat2 = to_lonlat(x, y)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)


def test_distance_of_one_degree_of_latitude() -> None:
    d = distance_m(107.4, 30.0, 107.4, 31.0)
    assert float(d) == pytest.approx(110_850, rel=0.002)


def test_area_km2_of_a_small_box() -> None:
    # 0.1° × 0.1° at 30°N: 11.1 km × 9.64 km ≈ 107 km²
    assert area_km2(box(107.3, 30.0, 107.4, 30.1)) == pytest.approx(107.1, rel=0.01)


def test_geometry_round_trip() -> None:
    poly = Polygon([(107.3, 30.3), (107.31, 30.3), (107.305, 30.31)])
    back = unproject_geometry(project_geometry(poly))
    assert back.equals_exact(poly, tolerance=1e-9)


@pytest.mark.parametrize("epsg", [None, "", "EPSG:4326", 4326, 999_999, "utm"])
def test_missing_or_bad_crs_is_an_error(epsg: object) -> None:
    with pytest.raises(ProjectionError):
        to_metres(107.3, 30.3, epsg)  # type: ignore[arg-type]
    with pytest.raises(ProjectionError):
        check_crs(epsg)  # type: ignore[arg-type]


def test_named_crs_accepted() -> None:
    assert check_crs("EPSG:32648") == 32648
    assert check_crs(4547) == 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 108E
