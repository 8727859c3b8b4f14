"""Organisation API: units and bundles, zones, officers, staffing, import/export and map layers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import ValidationFailed
from qingzhi.org import exchange, service
from qingzhi.org.enums import DutyStatus, OfficerKind, UnitKind
from qingzhi.org.schemas import (
    BundleUpdate,
    OfficerCreate,
    OfficerPage,
    OfficerRead,
    OfficerUpdate,
    OrgSummary,
    UnitCreate,
    UnitRead,
    UnitUpdate,
    ZoneCreate,
    ZoneRead,
    ZoneUpdate,
)
from qingzhi.params import IdPath, IdQuery, OffsetQuery
from qingzhi.store.deps import transaction

router = APIRouter(prefix="/api", tags=["org"])
MAX_IMPORT_BYTES = 50 * 1024 * 1024


@router.get("/org/summary", response_model=OrgSummary)
def summary(request: Request, actor: Actor = Depends(require(Perm.org_read))) -> OrgSummary:
    """Officers per 10,000 residents (警力万人比) for the bureau and each unit in scope."""
    with transaction(request, write=False) as session:
        return service.summary(session=session, actor=actor)


@router.get("/units", response_model=list[UnitRead])
def list_units(
    request: Request,
    q: str | None = Query(default=None, max_length=100),
    kind: UnitKind | None = None,
    actor: Actor = Depends(require(Perm.org_read)),
) -> list[UnitRead]:
    """Units in scope."""
    with transaction(request, write=False) as session:
        return service.list_units(session=session, actor=actor, q=q, kind=kind)


@router.get("/units/{unit_id}", response_model=UnitRead)
def get_unit(
    unit_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.org_read))
) -> UnitRead:
    """One unit."""
    with transaction(request, write=False) as session:
        return service.get_unit(session=session, actor=actor, unit_id=unit_id)


@router.post("/units", response_model=UnitRead, status_code=201)
def create_unit(
    body: UnitCreate, request: Request, actor: Actor = Depends(require(Perm.org_write))
) -> UnitRead:
    """Create a unit."""
    with transaction(request, write=True) as session:
        return service.create_unit(session=session, actor=actor, data=body)


@router.patch("/units/{unit_id}", response_model=UnitRead)
def update_unit(
    unit_id: IdPath,
    body: UnitUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.org_write)),
) -> UnitRead:
    """Change a unit."""
    with transaction(request, write=True) as session:
        return service.update_unit(session=session, actor=actor, unit_id=unit_id, data=body)


@router.put("/units/{unit_id}/members", response_model=UnitRead)
def set_members(
    unit_id: IdPath,
    body: BundleUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.org_write)),
) -> UnitRead:
    """Bundle 2–3 adjacent stations under a central station (捆绑运行); empty list unbundles."""
    with transaction(request, write=True) as session:
        return service.set_members(session=session, actor=actor, unit_id=unit_id, data=body)


@router.get("/zones", response_model=list[ZoneRead])
def list_zones(
    request: Request,
    station_id: IdQuery = None,
    q: str | None = Query(default=None, max_length=100),
    actor: Actor = Depends(require(Perm.org_read)),
) -> list[ZoneRead]:
    """Zones (片区) in scope."""
    with transaction(request, write=False) as session:
        return service.list_zones(session=session, actor=actor, station_id=station_id, q=q)


@router.get("/zones/{zone_id}", response_model=ZoneRead)
def get_zone(
    zone_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.org_read))
) -> ZoneRead:
    """One zone."""
    with transaction(request, write=False) as session:
        return service.get_zone(session=session, actor=actor, zone_id=zone_id)


@router.post("/zones", response_model=ZoneRead, status_code=201)
def create_zone(
    body: ZoneCreate, request: Request, actor: Actor = Depends(require(Perm.org_write))
) -> ZoneRead:
    """Create a zone."""
    with transaction(request, write=True) as session:
        return service.create_zone(session=session, actor=actor, data=body)


@router.patch("/zones/{zone_id}", response_model=ZoneRead)
def update_zone(
    zone_id: IdPath,
    body: ZoneUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.org_write)),
) -> ZoneRead:
    """Change a zone."""
    with transaction(request, write=True) as session:
        return service.update_zone(session=session, actor=actor, zone_id=zone_id, data=body)


@router.get("/officers", response_model=OfficerPage)
def list_officers(
    request: Request,
    unit_id: IdQuery = None,
    q: str | None = Query(default=None, max_length=50),
    kind: OfficerKind | None = None,
    duty_status: DutyStatus | None = None,
    offset: OffsetQuery = 0,
    limit: int = Query(default=100, ge=1, le=1000),
    actor: Actor = Depends(require(Perm.officer_read)),
) -> OfficerPage:
    """Officers in scope; ``q`` searches name and police number."""
    with transaction(request, write=False) as session:
        return service.list_officers(
            session=session,
            actor=actor,
            unit_id=unit_id,
            q=q,
            kind=kind,
            duty_status=duty_status,
            offset=offset,
            limit=limit,
        )


@router.get("/officers/{officer_id}", response_model=OfficerRead)
def get_officer(
    officer_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.officer_read))
) -> OfficerRead:
    """One officer."""
    with transaction(request, write=False) as session:
        return service.get_officer(session=session, actor=actor, officer_id=officer_id)


@router.post("/officers", response_model=OfficerRead, status_code=201)
def create_officer(
    body: OfficerCreate, request: Request, actor: Actor = Depends(require(Perm.officer_write))
) -> OfficerRead:
    """Add an officer."""
    with transaction(request, write=True) as session:
        return service.create_officer(session=session, actor=actor, data=body)


@router.patch("/officers/{officer_id}", response_model=OfficerRead)
def update_officer(
    officer_id: IdPath,
    body: OfficerUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.officer_write)),
) -> OfficerRead:
    """Change an officer (unit, team, zone, duty status)."""
    with transaction(request, write=True) as session:
        return service.update_officer(
            session=session, actor=actor, officer_id=officer_id, data=body
        )


@router.get(
    "/org/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "zip bundle"}},
)
def export(request: Request, actor: Actor = Depends(require(Perm.org_read))) -> Response:
    """The organisation in scope as a zip of GeoJSON and CSV (the import format)."""
    with transaction(request, write=False) as session:
        files = exchange.export_bundle(session=session, actor=actor)
    return Response(
        exchange.zip_bundle(files),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="qingzhi-org.zip"'},
    )


_UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "zip bundle"}},
}


@router.post(
    "/org/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _UPLOAD_SCHEMA}},
        }
    },
)
async def import_bundle(
    request: Request, actor: Actor = Depends(require(Perm.org_write))
) -> dict[str, Any]:
    """Import a zip bundle; all-or-nothing, with every bad row listed."""
    # The upload is read here, after the caller is known (a body parameter would be read
    # before the dependencies run): an anonymous upload is refused before its first byte.
    if not actor.scope.whole_bureau:
        raise ValidationFailed.field("bundle", "只有全局权限的用户可以导入组织机构")
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed.field("file", "缺少必填字段（zip 文件）")
        data = await upload.read(MAX_IMPORT_BYTES + 1)
    finally:
        await form.close()
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed.field("file", "文件超过 50 MB")
    bundle = exchange.parse_bundle(exchange.read_bundle(data))  # before the writer is taken
    with transaction(request, write=True) as session:
        report = exchange.import_bundle(session=session, actor=actor, bundle=bundle)
    return {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}


@router.get("/org/layers/{layer}")
def layer(
    layer: str, request: Request, actor: Actor = Depends(require(Perm.org_read))
) -> dict[str, Any]:
    """Map layers as GeoJSON in WGS-84: ``county``, ``units`` (jurisdictions) or ``zones``."""
    with transaction(request, write=False) as session:
        return service.map_layer(session=session, actor=actor, layer=layer)
