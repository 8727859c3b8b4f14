"""The Vancouver demo: real police records (VPD open data) under an org derived from them.

A second, real-data demo beside the synthetic county. The Vancouver Police Department publishes its
crime records (``crimedata_csv_AllNeighbourhoods_<year>.csv.gz``: TYPE, YEAR…MINUTE,
HUNDRED_BLOCK, NEIGHBOURHOOD, X, Y in UTM 10N metres, EPSG:26910) but no jurisdiction polygons, so
the org is derived from the records themselves, deterministically:

1. the located records (X, Y not 0) are reduced to their distinct points, each labelled with the
   neighbourhood most of its records name (ties: the first name alphabetically);
2. the Voronoi cells of those points, clipped to the convex hull of all of them, are dissolved by
   neighbourhood (a coverage union: the cells tile the hull, so the result does too);
3. a stray piece of a neighbourhood (any part but its largest) joins the neighbour it shares the
   longest border with, so each neighbourhood is one polygon and the units still tile the hull;
4. the polygons go to WGS-84 with pyproj and are snapped to 1e-7 degrees (about 1 cm).

The org is a bureau "Vancouver Police Department (demo)" whose boundary is the hull, one station
per neighbourhood (24), named exactly as the data names the neighbourhood (so that records without
coordinates are routed by the neighbourhood in their address), and a command centre. Bureau and
units are marked synthetic: the polygons are derived, the records are real. The records are then
imported through ``qingzhi.incidents.importer`` with the packaged ``vancouver_vpd.toml`` mapping
(idempotent: the source id is a hash of the row).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from qingzhi.auth.context import Actor
from qingzhi.config import Settings, shared_data_dir
from qingzhi.demo.loader import LoadReport, check_city, create_accounts
from qingzhi.geo.places import district_polygons
from qingzhi.incidents.importer import MAPPINGS_DIR, ImportSummary, Mapping, import_file
from qingzhi.org import exchange
from qingzhi.org.enums import UnitKind
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

DATA_DIR = shared_data_dir("vancouver_vpd")
FILE_PATTERN = "crimedata_csv_AllNeighbourhoods_*.csv*"
MAPPING_FILE = MAPPINGS_DIR / "vancouver_vpd.toml"
SOURCE_CRS = "EPSG:26910"  # NAD83 / UTM zone 10N, the X/Y of the export
BUREAU_CODE = "VPD"
BUREAU_NAME = "Vancouver Police Department (demo)"
POPULATION = 662_248  # City of Vancouver, 2021 census
COMMAND_CENTRE_CODE = "VPD-CC"
COMMAND_CENTRE_NAME = "VPD Command Centre (demo)"
COORD_GRID = 1e-7  # degrees, about 1 cm
_YEAR = re.compile(r"_(\d{4})\.csv")


@dataclass
class VancouverReport:
    """What a Vancouver demo load did."""

    org: LoadReport
    units: int
    files: list[tuple[str, ImportSummary]] = field(default_factory=list)

    @property
    def created(self) -> int:
        """Incidents added by this load."""
        return sum(s.created for _, s in self.files)


def year_files(data_dir: Path = DATA_DIR, years: Sequence[int] | None = None) -> list[Path]:
    """The yearly export files in ``data_dir`` (only ``years`` when given), oldest first."""
    files = sorted(p for p in data_dir.glob(FILE_PATTERN) if _YEAR.search(p.name))
    if years:
        wanted = {int(y) for y in years}
        files = [p for p in files if int(_YEAR.search(p.name).group(1)) in wanted]  # type: ignore[union-attr]
    return files


def _records(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def located_points(
    files: Sequence[Path], *, limit: int | None = None
) -> tuple[NDArray[np.float64], list[str]]:
    """(n × 2 array of X/Y metres, neighbourhood names) of the located records of ``files``.

    ``limit`` reads at most that many rows of each file (as the importer's ``limit`` does).
    """
    xy: list[tuple[float, float]] = []
    names: list[str] = []
    for path in files:
        for n, row in enumerate(_records(path)):
            if limit is not None and n >= limit:
                break
            name = (row.get("NEIGHBOURHOOD") or "").strip()
            try:
                x, y = float(row.get("X") or 0), float(row.get("Y") or 0)
            except ValueError:
                continue
            if name and x > 0 and y > 0:
                xy.append((x, y))
                names.append(name)
    return np.array(xy, dtype=np.float64).reshape(-1, 2), names


def neighbourhood_polygons(
    xy: NDArray[np.float64], names: Sequence[str]
) -> tuple[dict[str, BaseGeometry], BaseGeometry]:
    """One polygon per neighbourhood (metres, EPSG:26910) tiling the hull, and the hull: the
    general derivation of jurisdictions from a district column
    (``geo.places.district_polygons``, what ``qingzhi place init --derive-from`` uses)."""
    if len(set(names)) < 2 or len(xy) < 3:
        raise ValueError("need located records of at least two neighbourhoods")
    return district_polygons(xy, names)


def _to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    to_lonlat = Transformer.from_crs(SOURCE_CRS, "EPSG:4326", always_xy=True)

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    projected = shapely.transform(geom, project)
    snapped = shapely.set_precision(projected, COORD_GRID)
    return snapped if snapped.is_valid else shapely.make_valid(snapped)


def _geojson(geom: BaseGeometry) -> Any:
    return json.loads(json.dumps(mapping(geom)))


def unit_code(index: int) -> str:
    """The code of the ``index``-th neighbourhood (alphabetical order, from 1)."""
    return f"VPD{index:02d}"


def build_bundle(files: Sequence[Path], *, limit: int | None = None) -> dict[str, bytes]:
    """The org bundle (bureau.json, units.geojson) derived from the records of ``files``."""
    xy, names = located_points(files, limit=limit)
    polygons, hull = neighbourhood_polygons(xy, names)
    bureau = {
        "code": BUREAU_CODE,
        "name": BUREAU_NAME,
        "population": POPULATION,
        "boundary": _geojson(_to_wgs84(hull)),
        "synthetic": True,
        "note": (
            "Records: Vancouver Police Department open data (real). Boundary and jurisdictions: "
            "derived from the records (convex hull; Voronoi cells dissolved by neighbourhood)."
        ),
    }
    features = [
        {
            "type": "Feature",
            "geometry": _geojson(_to_wgs84(geom)),
            "properties": {
                "code": unit_code(i),
                "name": name,
                "kind": str(UnitKind.urban_station),
                "central": "",
                "population": None,
                "traffic_integrated": True,
                "service_window": True,
                "synthetic": True,
                "neighbourhood": name,
            },
        }
        for i, (name, geom) in enumerate(sorted(polygons.items()), start=1)
    ]
    features.append(
        {
            "type": "Feature",
            "geometry": None,
            "properties": {
                "code": COMMAND_CENTRE_CODE,
                "name": COMMAND_CENTRE_NAME,
                "kind": str(UnitKind.command_centre),
                "central": "",
                "synthetic": True,
            },
        }
    )
    return {
        "bureau.json": json.dumps(bureau, ensure_ascii=False).encode("utf-8"),
        "units.geojson": json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False
        ).encode("utf-8"),
    }


def load_vancouver(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    data_dir: Path = DATA_DIR,
    years: Sequence[int] | None = None,
    limit: int | None = None,
    org_files: Sequence[Path] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> VancouverReport:
    """Load the Vancouver org (derived from every year file, or ``org_files``), then the records.

    Refuses a database that holds another bureau. ``years`` limits the imported files (the org is
    the same whatever the years); ``limit`` reads at most that many rows per file, for both.
    """
    every = year_files(data_dir)
    if not every:
        raise FileNotFoundError(f"no VPD files ({FILE_PATTERN}) in {data_dir}")
    chosen = year_files(data_dir, years)
    if not chosen:
        raise FileNotFoundError(f"no VPD files for years {list(years or [])} in {data_dir}")
    with db.session() as session:
        check_city(session, code=BUREAU_CODE, name=BUREAU_NAME)
    bundle = build_bundle(org_files or every, limit=limit)
    parsed = exchange.parse_bundle(bundle)
    with db.session(write=True) as session:
        org = LoadReport(
            import_report=exchange.import_bundle(session=session, actor=actor, bundle=parsed)
        )
        create_accounts(session=session, actor=actor, report=org, files=bundle)
    n_units = len(json.loads(bundle["units.geojson"])["features"])
    report = VancouverReport(org=org, units=n_units)
    mapping_ = Mapping.load(MAPPING_FILE)
    for path in chosen:

        def advance(
            phase: str,
            done: int,
            total: int | None,
            name: str = path.name,
            loaded: list[int] = [0],  # noqa: B006 - one list per file, by design
        ) -> None:
            if progress is not None and phase == "load":
                progress(name, done - loaded[0])
                loaded[0] = done

        summary = import_file(
            db=db,
            actor=actor,
            settings=settings,
            path=path,
            mapping=mapping_,
            progress=advance,
            limit=limit,
        )
        report.files.append((path.name, summary))
        log.info(
            "%s: %d rows, %d new, %d existing, %d errors",
            path.name,
            summary.rows,
            summary.created,
            summary.existing,
            len(summary.errors),
        )
    return report
