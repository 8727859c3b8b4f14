"""OGC API – Features for incidents: structure, bbox/datetime/limit, scope; GDAL reads it."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest
import uvicorn

from tests.factories import incident_body
from tests.helpers import free_port

POINTS = [  # (source id, time, lon, lat) — A is 107.0–107.1, B 107.1–107.2 (lat 30.0–30.1)
    ("o1", "2026-10-01T08:00:00+08:00", 107.01, 30.01),
    ("o2", "2026-10-02T08:00:00+08:00", 107.02, 30.02),
    ("o3", "2026-10-03T08:00:00+08:00", 107.15, 30.05),
]


def _load(c):
    for i, (sid, at, lon, lat) in enumerate(POINTS):
        r = c.post(
            "/api/incidents",
            json=incident_body(
                source_id=sid,
                received_at=at,
                caller_phone=f"1370000000{i}",
                location={"lon": lon, "lat": lat},
            ),
        )
        assert r.status_code == 201


def test_landing_conformance_collections(as_user):
    c = as_user("analyst")
    assert {link["rel"] for link in c.get("/ogc").json()["links"]} >= {"conformance", "data"}
    conf = c.get("/ogc/conformance").json()["conformsTo"]
    assert any(cls.endswith("/conf/core") for cls in conf)
    assert c.get("/ogc/collections").json()["collections"][0]["id"] == "incidents"


def test_items_filter_page_and_scope(as_user):
    c = as_user("dispatcher")
    _load(c)
    r = c.get("/ogc/collections/incidents/items", params={"limit": 2})
    assert r.headers["content-type"].startswith("application/geo+json")
    page = r.json()
    assert page["numberMatched"] == 3 and page["numberReturned"] == 2
    assert any(link["rel"] == "next" for link in page["links"])
    feature = page["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert "****" in feature["properties"]["caller_phone"]
    got = c.get("/ogc/collections/incidents/items", params={"bbox": "107.1,30.0,107.2,30.1"}).json()
    assert [f["properties"]["source_id"] for f in got["features"]] == ["o3"]
    got = c.get(
        "/ogc/collections/incidents/items", params={"datetime": "2026-10-01T12:00:00Z/.."}
    ).json()
    assert sorted(f["properties"]["source_id"] for f in got["features"]) == ["o2", "o3"]
    chief = as_user("chief_a").get("/ogc/collections/incidents/items").json()
    assert sorted(f["properties"]["source_id"] for f in chief["features"]) == ["o1", "o2"]
    bad = c.get("/ogc/collections/incidents/items", params={"datetime": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "datetime"


def test_unauthenticated_is_refused(client, org):
    assert client.get("/ogc/collections/incidents/items").status_code == 401


@pytest.mark.skipif(
    shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (gdal-bin) is not installed"
)
def test_gdal_reads_the_layer(app, as_user):
    c = as_user("analyst")
    token = c.headers["Authorization"].split()[1]
    _load(as_user("dispatcher"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        out = subprocess.run(
            ["ogrinfo", "-ro", "-al", "-so", f"OAPIF:http://127.0.0.1:{port}/ogc", "incidents"],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}",
                "PATH": "/usr/bin:/bin",
                "GDAL_HTTP_TIMEOUT": "20",
            },
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert out.returncode == 0, out.stderr
    assert "Feature Count: 3" in out.stdout
    assert "Point" in out.stdout
