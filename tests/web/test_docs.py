"""The API documentation: vendored Swagger UI behind login and under the CSP; the OpenAPI
description declares the real error answers; OGC links never come from the Host header."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.web.app import STATIC_DIR, create_app
from qingzhi.web.csp import CSP
from tests.factories import Org
from tests.helpers import bearer, cookie_login

ERRORS = {"401", "403", "404", "409", "413", "422", "429"}


def test_docs_need_a_login(client: TestClient, org: Org) -> None:
    r = client.get("/api/docs", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/api/docs"
    assert client.get("/api/docs").status_code == 401


def test_docs_are_vendored_and_under_the_csp(client: TestClient, org: Org) -> None:
    cookie_login(client, "viewer")
    r = client.get("/api/docs", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    html = r.text
    assert "<script>" not in html  # no inline script: the CSP allows none
    assert "http://" not in html and "https://" not in html  # no CDN
    scripts = [
        "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui-5.35.0/swagger-ui.css",
        "/static/js/apidocs.js",
    ]
    for src in scripts:
        assert src in html
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 500
    folder = STATIC_DIR / "vendor" / "swagger-ui-5.35.0"
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert "swagger-ui-5.35.0" in (STATIC_DIR / "vendor" / "README.md").read_text()


def test_schema_declares_the_error_answers(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "details"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            declared = set(operation["responses"])
            assert declared >= ERRORS, (method, path, ERRORS - declared)
            for status in ERRORS:
                content = operation["responses"][status]["content"]
                ref = content["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, status)
    fmt = spec["paths"]["/api/incidents/export.{fmt}"]["get"]["parameters"][0]
    assert fmt["schema"]["enum"] == ["csv", "xlsx", "geojson"]
    assert "/api/docs" not in spec["paths"]


def test_ogc_links_ignore_the_host_header(client: TestClient, db: Database, org: Org) -> None:
    headers = {**bearer(db, "analyst"), "Host": "evil.example"}
    for path in ("/ogc", "/ogc/collections", "/ogc/collections/incidents/items"):
        body = client.get(path, headers=headers).json()
        links = [link["href"] for link in body["links"]]
        links += [link["href"] for c in body.get("collections", []) for link in c["links"]]
        assert links and not any("evil.example" in href for href in links), links
        assert all(href.startswith("http://testserver/") for href in links), links


def test_ogc_links_use_the_configured_base_url(db: Database, org: Org) -> None:
    settings = Settings(database_url="sqlite://", base_url="https://qz.example.gov.cn/gis/")
    with TestClient(create_app(settings, db)) as c:
        headers = {**bearer(db, "analyst"), "Host": "evil.example"}
        r = c.get("/ogc/collections/incidents/items", params={"limit": 1}, headers=headers)
        assert r.headers["content-type"].startswith("application/geo+json")
        self_link = next(link for link in r.json()["links"] if link["rel"] == "self")
        assert self_link["href"].startswith("https://qz.example.gov.cn/gis/ogc/collections/")
