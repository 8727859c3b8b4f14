"""Base map API: the configured tile archive's metadata and its tiles.

``GET /api/basemap`` says whether a base map is configured (``QINGZHI_BASEMAP``) and what it is
(format, bounds, zooms, datum, attribution, whether it is synthetic); ``GET
/tiles/{z}/{x}/{y}.{ext}`` serves one tile; ``GET /api/basemap/style`` is a vector base map's
MapLibre style (``qingzhi.basemap.vector_style``). All need a signed-in user who may read the
organisation's map layers (the tiles are no police data, but the map is not public); a missing
tile, an extension other than the archive's format and a tile outside the pyramid are 404. Tiles
carry a private cache lifetime and an ETag (a repeated request with ``If-None-Match`` is 304).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.basemap.tiles import MAX_ZOOM, TileSource, open_basemap
from qingzhi.basemap.vector_style import style_of
from qingzhi.errors import NotFound
from qingzhi.store.deps import settings_of

log = logging.getLogger(__name__)

router = APIRouter(tags=["底图"])
CACHE_CONTROL = "private, max-age=3600"


def configured_source(request: Request) -> TileSource | None:
    """The configured base map, or None when ``QINGZHI_BASEMAP`` is not set."""
    settings = settings_of(request)
    if settings.basemap is None:
        return None
    return open_basemap(settings.basemap, datum=settings.basemap_datum)


@router.get("/api/basemap", summary="底图信息")
def basemap_info(
    request: Request, actor: Actor = Depends(require(Perm.org_read))
) -> dict[str, Any]:
    """The configured base map's metadata (``configured: false`` when there is none)."""
    source = configured_source(request)
    if source is None:
        return {"configured": False}
    out = source.info.as_dict()
    if source.info.vector:
        out["style_url"] = "/api/basemap/style"
    return out


@router.get("/api/basemap/style", summary="矢量底图样式")
def basemap_style(
    request: Request, actor: Actor = Depends(require(Perm.org_read))
) -> dict[str, Any]:
    """The MapLibre style of a vector base map (the local ``QINGZHI_BASEMAP_STYLE``, else one
    made from the file's layers); 404 without a vector base map."""
    source = configured_source(request)
    if source is None or not source.info.vector:
        raise NotFound("未配置矢量底图（QINGZHI_BASEMAP 为矢量 MBTiles/PMTiles 时才有样式）")
    return style_of(source.info, settings_of(request).basemap_style)


@router.get("/tiles/{z}/{x}/{y}.{ext}", include_in_schema=False)
def tile(
    request: Request,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    ext: Annotated[str, Path(max_length=8)],
    actor: Actor = Depends(require(Perm.org_read)),
) -> Response:
    """One tile of the configured base map (404 when there is none at z/x/y)."""
    source = configured_source(request)
    if source is None:
        raise NotFound("未配置底图（QINGZHI_BASEMAP）")
    fmt = source.info.format
    if ext.lower() not in ({fmt, "jpeg"} if fmt == "jpg" else {fmt}):
        raise NotFound(f"底图瓦片格式为 {fmt}，没有 .{ext} 瓦片")
    found = source.tile(z, x, y)
    if found is None:
        raise NotFound(f"底图没有瓦片 {z}/{x}/{y}")
    etag = '"' + hashlib.blake2b(found.data, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if found.encoding:
        headers["Content-Encoding"] = found.encoding
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.media_type, headers=headers)
