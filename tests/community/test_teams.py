"""The three parts (两队一室): community-team officers leave the dispatch rota by default but are
offered for their own zone's incidents (就近处警); set back in the rota they are offered again;
the live map marks them; a station's teams list its officers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.dispatch import service as dispatch
from qingzhi.store.db import Database
from tests.community.conftest import Community
from tests.factories import Org, add_incident


def _offered(db: Database, settings: Settings, incident: int) -> set[int]:
    with db.session() as session:
        rec = dispatch.recommend(
            session=session,
            actor=system_actor(),
            settings=settings,
            incident_id=incident,
            limit=500,
        )
    return {c.officer_id for c in rec.candidates}


def test_community_officers_take_only_their_zones_incidents(
    as_user: Callable[[str], TestClient],
    db: Database,
    org: Org,
    community: Community,
    settings: Settings,
) -> None:
    in_z1 = add_incident(db, category="dispute", location=(107.02, 30.02))
    in_z2 = add_incident(db, category="criminal", location=(107.08, 30.03), subtype="theft")
    offered1, offered2 = _offered(db, settings, in_z1), _offered(db, settings, in_z2)
    assert community.officer1 in offered1 and community.officer1 not in offered2
    assert community.officer2 in offered2 and community.officer2 not in offered1
    case_officer = org.on_duty("A")[0]
    assert case_officer in offered1 and case_officer in offered2
    # Back in the rota (a chief's decision): offered everywhere again.
    r = as_user("chief_a").patch(
        f"/api/community/officers/{community.officer1}",
        json={"in_rota": True, "role": "村居组织副书记"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["in_rota"] and r.json()["role"] == "村居组织副书记"
    assert community.officer1 in _offered(db, settings, in_z2)
    # The live map marks those out of the rota.
    items = as_user("chief_a").get("/api/live/officers").json()["items"]
    rota = {o["id"]: o["in_rota"] for o in items}
    assert rota[community.officer1] is True and rota[community.officer2] is False
    assert rota[case_officer] is True
    teams = as_user("chief_a").get(f"/api/community/units/{org.id('A')}/teams").json()
    assert [t["team"] for t in teams] == ["case", "community", "command"]
    community_team = {o["officer_id"] for o in teams[1]["officers"]}
    assert {community.officer1, community.officer2} <= community_team
    assert as_user("chief_c").get(f"/api/community/units/{org.id('A')}/teams").status_code == 404
    # A zone of another station is refused naming the field.
    r = as_user("admin").patch(
        f"/api/community/officers/{community.officer1}", json={"zone_id": org.zones["B-Z1"].id}
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "zone_id"
