"""A forecast whose fit is long runs as a background job: 202 with the job, its progress at
/api/jobs/{id}, then 200 from the stored model (the same cells as a direct computation), in
any server process."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qingzhi.config import Settings
from qingzhi.incidents.enums import Category
from qingzhi.intel import forecasting
from qingzhi.jobs.runner import PROGRESS_INTERVAL
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.helpers import bearer, user_actor
from tests.intel.test_views import A_HOT, _cluster_rows

PARAMS = {"day": "2026-10-11", "top": 5, "fit_days": 20, "category": "criminal"}
SETTINGS = Settings(database_url="sqlite://", forecast_inline_seconds=0.0)


@pytest.fixture
def committed_client(committed: Database) -> Iterator[TestClient]:
    """A client of the app on the committed database (its job runner's threads read it)."""
    with TestClient(create_app(SETTINGS, committed), base_url="http://testserver") as c:
        yield c


def _load(client: TestClient, db: Database) -> None:
    from tests.factories import incident_body

    rows = _cluster_rows(40, 40, dt.date(2026, 9, 1), A_HOT)
    items = [
        incident_body(
            source_id=f"j-{i}", received_at=at, category=cat, subtype=sub,
            caller_phone=f"139{i:08d}", location={"lon": lon, "lat": lat, "datum": "wgs84"},
        )
        for i, (at, cat, sub, lon, lat) in enumerate(rows)
    ]  # fmt: skip
    r = client.post("/api/incidents/bulk", json={"items": items}, headers=bearer(db, "dispatcher"))
    assert r.status_code == 200 and r.json()["errors"] == [], r.text


def _wait(client: TestClient, url: str, headers: dict[str, str], until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url, headers=headers).json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job did not get there: {job}")


def test_a_long_fit_is_a_job_and_then_the_same_request_answers_from_it(
    committed_client: TestClient, committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(committed_client, committed)
    forecasting._FITTED.clear()
    with committed.session() as s:
        direct = forecasting.forecast_map(
            session=s, actor=user_actor(s, "chief_a"), settings=SETTINGS, day=dt.date(2026, 10, 11),
            top=5, fit_days=20, categories=[Category.criminal], inline_seconds=1e9,
        )  # fmt: skip
    assert isinstance(direct, dict) and direct["features"]
    forecasting._FITTED.clear()  # as in a process that has fitted nothing

    # hold the job a quarter of the way through its fit, so its progress can be seen
    reached, release = threading.Event(), threading.Event()
    real_fit = forecasting.fit_model

    def held(inputs: forecasting.FitInputs, progress: Any = None) -> Any:
        def report(fraction: float, message: str) -> None:
            if fraction >= 0.25 and not reached.is_set():
                time.sleep(PROGRESS_INTERVAL + 0.1)  # past the throttle: this one is written
                progress(fraction, message)
                reached.set()
                release.wait(30)
                return
            progress(fraction, message)

        return real_fit(inputs, report if progress is not None else None)

    monkeypatch.setattr(forecasting, "fit_model", held)
    chief = bearer(committed, "chief_a")
    first = committed_client.get("/api/intel/forecast", params=PARAMS, headers=chief)
    assert first.status_code == 202, first.text
    job = first.json()["job"]
    assert first.headers["location"] == job["url"] == f"/api/jobs/{job['id']}"
    assert reached.wait(30)
    running = committed_client.get(job["url"], headers=chief).json()
    assert running["status"] == "running"
    assert 0.25 <= running["progress"] < 1 and running["message"].startswith("计算特征")
    # asking again while it runs joins the same job
    again = committed_client.get("/api/intel/forecast", params=PARAMS, headers=chief)
    assert again.status_code == 202 and again.json()["job"]["id"] == job["id"]
    release.set()
    done = _wait(committed_client, job["url"], chief, lambda j: j["status"] in ("done", "failed"))
    assert done["status"] == "done" and done["progress"] == 1.0, done
    assert done["result"]["fit_days"] == 20
    answer = committed_client.get("/api/intel/forecast", params=PARAMS, headers=chief)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["properties"]["job_id"] == job["id"]
    assert out["features"] == direct["features"]
    assert out["properties"]["params"] == direct["properties"]["params"]


def test_another_server_process_sees_the_job_and_its_result(
    committed_client: TestClient, committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(committed_client, committed)
    forecasting._FITTED.clear()
    chief = bearer(committed, "chief_a")
    first = committed_client.get("/api/intel/forecast", params=PARAMS, headers=chief)
    assert first.status_code == 202, first.text
    job = first.json()["job"]
    # a second worker: its own Database (engine, pool) and its own runner on the same store
    other_db = Database(committed.url)
    try:
        with TestClient(create_app(SETTINGS, other_db), base_url="http://testserver") as other:
            done = _wait(other, job["url"], chief, lambda j: j["status"] == "done")
            assert done["result"]["rows"] > 0
            forecasting._FITTED.clear()  # the second process has no model in memory
            fits: list[object] = []
            monkeypatch.setattr(forecasting, "fit_model", lambda *a, **k: fits.append(a))
            answer = other.get("/api/intel/forecast", params=PARAMS, headers=chief)
            assert answer.status_code == 200, answer.text
            assert answer.json()["properties"]["job_id"] == job["id"] and fits == []
    finally:
        other_db.dispose()
