"""``qingzhi kpi score|impact|reforms`` on a database file: figures printed, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

from qingzhi.analysis.scheme import DEFAULT_SCHEME_TOML
from qingzhi.auth.context import system_actor
from qingzhi.cli.main import app
from qingzhi.kpi import service
from qingzhi.kpi.schemas import ReformCreate
from qingzhi.store.db import Database
from tests.kpi.test_kpi import _reform_history
from tests.test_cli import cli_db, org_db, runner

__all__ = ["cli_db", "org_db"]


def test_score_and_impact_from_the_command_line(org_db: str, tmp_path: Path) -> None:
    db = Database(org_db)
    _reform_history(db, 0.5)
    with db.session(write=True) as session:
        reform = service.create_reform(
            session=session,
            actor=system_actor(),
            data=ReformCreate(
                name="捆绑运行", kind="bundling", effective="2025-07-01", units=["R1", "R2"]
            ),
        )
    db.dispose()
    scheme = tmp_path / "scheme.toml"
    scheme.write_text(DEFAULT_SCHEME_TOML, encoding="utf-8")
    r = runner.invoke(
        app, ["kpi", "score", "--period", "2025-Q4", "--scheme", str(scheme), "--draws", "100"]
    )
    assert r.exit_code == 0, r.output
    assert "城一派出所" in r.output and "丙镇派出所" in r.output
    r = runner.invoke(
        app,
        [
            "kpi",
            "impact",
            "--reform",
            str(reform.id),
            "--outcome",
            "public_order",
            "--json",
            "--draws",
            "199",
        ],
    )
    assert r.exit_code == 0, r.output
    did = json.loads(r.output)["did"]
    assert did["low"] < 0.5 < did["high"]
    r = runner.invoke(
        app, ["kpi", "trend", "--station", "A", "--period", "2025-Q4", "--periods", "2"]
    )
    assert r.exit_code == 0, r.output
    assert "2025-Q3" in r.output and "2025-Q4" in r.output and "城一派出所" in r.output
    r = runner.invoke(app, ["kpi", "trend", "--station", "NOPE", "--period", "2025-Q4"])
    assert r.exit_code == 2 and "station" in r.output
    r = runner.invoke(app, ["kpi", "reforms"])
    assert "R1、R2" in r.output

    r = runner.invoke(app, ["kpi", "score", "--period", "2025-Q9"])
    assert r.exit_code == 2 and "period" in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[indicators.nope]\nweight = 1\n", encoding="utf-8")
    r = runner.invoke(app, ["kpi", "score", "--period", "2025-Q4", "--scheme", str(bad)])
    assert r.exit_code == 2 and "nope" in r.output
    r = runner.invoke(app, ["kpi", "impact", "--reform", "999"])
    assert r.exit_code == 2
