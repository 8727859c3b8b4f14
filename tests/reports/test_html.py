"""The HTML form: the same headings, tables and figures as the .docx; no inline script; ECharts
drawn by the external script under the app's CSP (Chromium, when installed)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from qingzhi.reports.render import (
    CHART_SCRIPT,
    ECHARTS_SRC,
    Document,
    Paragraph,
    to_html,
)
from tests.reports.samples import ISSUER, TITLE, sample_document

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VENDOR = ROOT / "src" / "qingzhi" / "web" / "static" / "vendor"
CHROMIUM = Path("/usr/bin/chromium")
CHART_URL = "/static/reports/doc-charts.js"


@pytest.fixture(scope="module")
def page_html() -> str:
    return to_html(sample_document(), scripts=(ECHARTS_SRC, CHART_URL))


def _texts(markup: str, tag: str) -> list[str]:
    found = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", markup, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in found]


def test_same_headings_as_the_word_form(page_html: str) -> None:
    assert _texts(page_html, "h1") == [TITLE]
    assert _texts(page_html, "h2") == ["一、总体情况", "二、时空分布", "三、工作建议"]
    assert _texts(page_html, "h3") == ["（一）分类分析"]
    assert _texts(page_html, "h4") == ["1.各派出所警情"]
    assert ISSUER in page_html and "2026年12月1日" in page_html
    assert page_html.startswith("<!doctype html>")


def test_tables_with_links_and_alignment(page_html: str) -> None:
    assert _texts(page_html, "th") == ["派出所", "本期", "上期", "环比"]
    assert _texts(page_html, "caption") == ["表1　各派出所警情"]
    assert '<a href="/units/500231001">桂溪派出所</a>' in page_html
    assert '<td class="al-right">120</td>' in page_html
    assert '<td class="al-left">澄溪中心派出所</td>' in page_html


def test_figures_are_data_uris_with_the_echarts_option(page_html: str) -> None:
    images = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', page_html)
    assert len(images) == 2
    assert _texts(page_html, "figcaption") == ["图1　警情时段分布", "图2　垫江县警情热点分布"]
    (option,) = re.findall(r'data-echarts="([^"]+)"', page_html)
    decoded = json.loads(html.unescape(option))
    assert [s["type"] for s in decoded["series"]] == ["bar", "line"]
    assert decoded["series"][1]["step"] == "middle"  # the baseline is a step, not smoothed
    assert len(decoded["xAxis"]["data"]) == 24


def test_no_inline_script(page_html: str) -> None:
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page_html, flags=re.S)
    assert [attrs.strip() for attrs, _ in scripts] == [f'src="{ECHARTS_SRC}"', f'src="{CHART_URL}"']
    assert all(body == "" for _, body in scripts)
    assert re.search(r"<[^>]+\son[a-z]+\s*=", page_html) is None  # no event-handler attributes


def test_text_is_escaped_and_fragment_form() -> None:
    doc = sample_document(with_map=False)
    bad = Document(
        title="<b>标题</b>", issuer=doc.issuer, date=doc.date,
        blocks=[Paragraph("<script>alert(1)</script>")],
    )  # fmt: skip
    fragment = to_html(bad, page=False)
    assert "<script>" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    assert fragment.lstrip().startswith("<style>") and "<html" not in fragment
    assert "&lt;b&gt;标题&lt;/b&gt;" in fragment


def test_figures_can_be_referenced_by_url() -> None:
    page = to_html(sample_document(), figure_src=lambda i, f: f"/api/reports/7/figures/{i}.png")
    assert re.findall(r'<img src="([^"]+)"', page) == [
        "/api/reports/7/figures/0.png",
        "/api/reports/7/figures/1.png",
    ]
    assert "data:image" not in page


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is missing"
)
def test_chart_drawn_under_the_app_csp_and_print_shows_the_png(page_html: str) -> None:
    from playwright.sync_api import Route, sync_playwright

    from qingzhi.web.csp import CSP

    files = {
        ECHARTS_SRC: (VENDOR / "echarts-5.6.0" / "echarts.min.js", "text/javascript"),
        CHART_URL: (CHART_SCRIPT, "text/javascript"),
    }

    def serve(route: Route) -> None:
        path = "/" + route.request.url.split("/", 3)[3]
        if path == "/report":
            body, kind = page_html.encode(), "text/html; charset=utf-8"
        elif path in files:
            body, kind = files[path][0].read_bytes(), files[path][1]
        else:
            route.fulfill(status=404, body=b"")
            return
        route.fulfill(status=200, body=body, headers={"Content-Type": kind,
                                                      "Content-Security-Policy": CSP})  # fmt: skip

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page: Any = browser.new_page(viewport={"width": 900, "height": 1200})
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.route("http://qingzhi.test/**", serve)
        page.goto("http://qingzhi.test/report")
        page.wait_for_selector("figure.qz-live .qz-chart svg", timeout=15_000)
        assert page.locator("figure.qz-live .qz-chart svg rect, figure.qz-live path").count() > 24
        assert not page.locator("figure.qz-live img").is_visible()  # the chart replaces the PNG
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-brief-html.png"), full_page=True)
        page.emulate_media(media="print")
        assert page.locator("figure.qz-live img").is_visible()  # print keeps the PNG
        assert not page.locator("figure.qz-live .qz-chart").is_visible()
        browser.close()
    assert problems == []
