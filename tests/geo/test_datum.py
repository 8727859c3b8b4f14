"""Datum conversions: GCJ-02 / BD-09 round trips and the magnitude of the offset in Chongqing."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Polygon

from qingzhi.errors import ValidationFailed
from qingzhi.geo import datum
from qingzhi.geo.projection import distance_m

RNG = np.random.default_rng(7)
# Points spread over Chongqing's Dianjiang county and around it.
LON = RNG.uniform(107.0, 107.9, 500)
LAT = RNG.uniform(29.8, 30.7, 500)


def test_gcj02_wgs84_round_trip_within_2_m() -> None:
    wlon, wlat = datum.gcj02_to_wgs84(LON, LAT)
    glon, glat = datum.wgs84_to_gcj02(wlon, wlat)
    err = distance_m(LON, LAT, glon, glat)
    assert float(err.max()) < 2.0
    assert float(np.abs(glon - LON).max()) < 1e-7  # the inverse iterates to < 1e-7 degrees
    assert float(np.abs(glat - LAT).max()) < 1e-7


def test_offset_magnitude_in_chongqing_is_300_to_600_m() -> None:
    glon, glat = datum.wgs84_to_gcj02(LON, LAT)
    offset = distance_m(LON, LAT, glon, glat)
    assert float(offset.min()) > 300.0
    assert float(offset.max()) < 600.0


def test_known_point_county_seat() -> None:
    # The DataV "center" of Dianjiang (GCJ-02) lies about 0.5 km from its WGS-84 position.
    wlon, wlat = datum.gcj02_to_wgs84(107.348692, 30.330012)
    assert float(wlon) == pytest.approx(107.3441, abs=2e-4)
    assert float(wlat) == pytest.approx(30.3325, abs=2e-4)


def test_bd09_round_trip() -> None:
    blon, blat = datum.wgs84_to_bd09(LON, LAT)
    wlon, wlat = datum.bd09_to_wgs84(blon, blat)
    assert float(distance_m(LON, LAT, wlon, wlat).max()) < 0.01
    glon, glat = datum.bd09_to_gcj02(*datum.gcj02_to_bd09(LON, LAT))
    assert float(np.abs(glon - LON).max()) < 1e-7
    assert float(np.abs(glat - LAT).max()) < 1e-7
    # BD-09 sits about 0.0065° east and 0.006° north of GCJ-02.
    dlon, dlat = datum.gcj02_to_bd09(LON, LAT)
    assert 0.005 < float(np.mean(dlon - LON)) < 0.008
    assert 0.004 < float(np.mean(dlat - LAT)) < 0.008


def test_outside_china_no_offset() -> None:
    lon, lat = datum.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


def test_scalars_and_convert_dispatch() -> None:
    for src in datum.Datum:
        for dst in datum.Datum:
            lon, lat = datum.convert(107.4, 30.3, source=src, target=dst)
            back = datum.convert(lon, lat, source=dst, target=src)
            assert float(back[0]) == pytest.approx(107.4, abs=1e-7)
            assert float(back[1]) == pytest.approx(30.3, abs=1e-7)
    assert datum.parse_datum("WGS-84") is datum.Datum.wgs84
    with pytest.raises(ValidationFailed) as exc:
        datum.parse_datum("mars", "location.datum")
    assert exc.value.details[0]["field"] == "location.datum"


def test_convert_geometry_keeps_topology() -> None:
    square = Polygon([(107.3, 30.3), (107.31, 30.3), (107.31, 30.31), (107.3, 30.31)])
    wgs = datum.convert_geometry(square, source="gcj02", target="wgs84")
    assert wgs.is_valid and wgs.geom_type == "Polygon"
    assert len(wgs.exterior.coords) == len(square.exterior.coords)
    assert wgs.area == pytest.approx(square.area, rel=1e-2)
    back = datum.convert_geometry(wgs, source="wgs84", target="gcj02")
    assert back.equals_exact(square, tolerance=1e-7)
