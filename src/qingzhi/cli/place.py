"""``qingzhi place init``: a new bureau's place, set up once (``org.service.place``).

From a boundary file and a jurisdictions file (GeoJSON, Shapefile or GeoPackage in any CRS), or,
when the GIS department has no jurisdiction polygons, derived from a CAD export's district column
(``geo.places.derive_jurisdictions``: Voronoi cells of the calls dissolved by district, clipped to
the boundary, marked derived). Time zone and projected CRS default to the place's own.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import shapely
import typer
from shapely.geometry.base import BaseGeometry

from qingzhi.auth.context import system_actor
from qingzhi.cli.common import console, migrated_database
from qingzhi.cli.common import fail as _fail
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.geo.datum import convert
from qingzhi.geo.places import derive_jurisdictions, read_layer, utm_crs
from qingzhi.incidents.import_read import BadRow, Source
from qingzhi.incidents.importer import Mapping, to_item
from qingzhi.org.service.place import Jurisdiction, init_place

log = logging.getLogger(__name__)

place_app = typer.Typer(help="本地设置：边界、辖区、时区与投影", no_args_is_help=True)


def district_points(path: Path, mapping: Mapping) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The WGS-84 points and district names of a CAD export's good rows that have both."""
    if "source_district" not in mapping.columns or not mapping.columns["source_district"]:
        raise ValidationFailed.field("fields.source_district", "推算辖区须在映射中指明辖区列")
    source = Source(
        path, encoding=mapping.encoding, delimiter=mapping.delimiter, sheet=mapping.sheet
    )
    mapping.check_header(source.header, path.name)
    by_datum: dict[str, tuple[list[float], list[float], list[str]]] = {}
    for _, row in source.rows():
        if isinstance(row, BadRow):
            continue
        try:
            item = to_item(row, mapping)
        except (ValueError, QingzhiError):
            continue
        if item.location is None or not item.source_district:
            continue
        xs, ys, ds = by_datum.setdefault(str(item.location.datum), ([], [], []))
        xs.append(item.location.lon)
        ys.append(item.location.lat)
        ds.append(item.source_district)
    lon: list[float] = []
    lat: list[float] = []
    names: list[str] = []
    for datum, (xs, ys, ds) in by_datum.items():
        x, y = convert(xs, ys, source=datum, target="wgs84")
        lon.extend(x.tolist())
        lat.extend(y.tolist())
        names.extend(ds)
    if not names:
        raise ValidationFailed.field("derive_from", f"{path.name} 中没有带坐标和辖区的警情")
    return np.array(lon), np.array(lat), names


def _code(name: str) -> str:
    slug = re.sub(r"[^0-9A-Za-z]+", "-", name).strip("-").upper()
    return f"D-{slug or abs(hash(name)) % 10_000}"[:32]


@place_app.command("init")
def place_init(
    boundary: Path | None = typer.Option(
        None, "--boundary", help="县界：GeoJSON/Shapefile/GeoPackage"
    ),
    jurisdictions: Path | None = typer.Option(
        None, "--jurisdictions", help="派出所辖区面：GeoJSON/Shapefile/GeoPackage"
    ),
    code_field: str = typer.Option("code", "--code-field", help="辖区文件中单位编码的字段"),
    name_field: str = typer.Option("name", "--name-field", help="辖区文件中单位名称的字段"),
    derive_from: Path | None = typer.Option(
        None, "--derive-from", help="无辖区面时：由此警情文件的辖区列推算（须 --mapping）"
    ),
    mapping: Path | None = typer.Option(None, "--mapping", help="警情文件的映射 TOML"),
    timezone: str | None = typer.Option(None, "--timezone", help="时区（默认按边界中心）"),
    crs: str | None = typer.Option(None, "--crs", help="投影坐标系（默认边界中心所在 UTM 带）"),
    bureau_code: str | None = typer.Option(None, "--bureau-code", help="新建公安局的编码"),
    bureau_name: str | None = typer.Option(None, "--bureau-name", help="新建公安局的名称"),
) -> None:
    """Set the bureau's boundary, jurisdictions, time zone and projected CRS."""
    db = migrated_database()
    try:
        area: BaseGeometry | None = None
        if boundary is not None:
            area = shapely.union_all([f.geometry for f in read_layer(boundary, field="boundary")])
        parts: list[Jurisdiction] = []
        derived = False
        if jurisdictions is not None:
            for i, f in enumerate(read_layer(jurisdictions, field="jurisdictions"), start=1):
                code = str(f.properties.get(code_field) or "").strip()
                if not code:
                    raise ValidationFailed.field(code_field, f"第 {i} 个辖区没有 {code_field}")
                name = str(f.properties.get(name_field) or code).strip()
                parts.append(Jurisdiction(code, name, f.geometry))
            if area is None:
                area = shapely.union_all([p.geometry for p in parts])
        elif derive_from is not None:
            if mapping is None:
                raise ValidationFailed.field("mapping", "推算辖区须给出 --mapping")
            lon, lat, names = district_points(derive_from, Mapping.load(mapping))
            if area is None:  # the calls' hull, a kilometre wider
                hull = shapely.convex_hull(shapely.multipoints(np.column_stack([lon, lat])))
                area = hull.buffer(0.01)
            centre = area.representative_point()
            derived_parts = derive_jurisdictions(
                lon, lat, names, area, crs or utm_crs(centre.x, centre.y)
            )
            parts = [Jurisdiction(_code(n), f"{n}辖区", g) for n, g in derived_parts.items()]
            derived = True
        if area is None:
            raise ValidationFailed.field("boundary", "须给出 --boundary 或 --jurisdictions")
        with db.session(write=True) as session:
            report = init_place(
                session=session,
                actor=system_actor("place"),
                boundary=area,
                jurisdictions=parts,
                derived=derived,
                timezone=timezone,
                projected_crs=crs,
                bureau_code=bureau_code,
                bureau_name=bureau_name,
            )
    except QingzhiError as exc:
        _fail(exc)
    finally:
        db.dispose()
    console.print(
        f"{report.bureau}：时区 {report.timezone}，投影 {report.projected_crs}；"
        f"辖区 {len(parts)} 个"
        + ("（推算：由警情的辖区列推出，仅供参考）" if derived else "")
        + f"，新建 {len(report.created)}，更新 {len(report.updated)}"
    )
    console.print("请重启 qingzhi serve 以使用新的时区与投影。")
