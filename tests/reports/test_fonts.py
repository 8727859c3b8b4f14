"""Finding the Fandol fonts and showing them to LibreOffice through fontconfig."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from qingzhi.reports.render import FACES, FontsMissing, font_dir
from qingzhi.reports.render.fonts import (
    FANDOL_DIRS,
    NOTO_SANS_CJK,
    chart_font_file,
    font_file,
    write_fontconfig,
)

DEBIAN = FANDOL_DIRS[0]
needs_fandol = pytest.mark.skipif(
    not (DEBIAN / "FandolFang-Regular.otf").is_file(),
    reason="Debian's texlive-lang-chinese (the Fandol fonts) is not installed",
)


@needs_fandol
def test_found_in_the_debian_folder() -> None:
    assert font_dir() == DEBIAN
    assert font_file("fang") == DEBIAN / "FandolFang-Regular.otf"
    assert chart_font_file() == DEBIAN / "FandolHei-Regular.otf"


@needs_fandol
def test_font_dir_setting_overrides(setenv: Callable[[str, str], None], tmp_path: Path) -> None:
    for file in {face.file for face in FACES.values()}:
        (tmp_path / file).symlink_to(DEBIAN / file)
    setenv("QINGZHI_FONT_DIR", str(tmp_path))
    assert font_dir() == tmp_path
    assert font_file("kai") == tmp_path / "FandolKai-Regular.otf"


def test_font_dir_setting_without_the_fonts_is_an_error(
    setenv: Callable[[str, str], None], tmp_path: Path
) -> None:
    setenv("QINGZHI_FONT_DIR", str(tmp_path))
    with pytest.raises(FontsMissing) as err:
        font_dir()
    assert err.value.status == 503
    assert "FandolSong-Regular.otf" in err.value.message and str(tmp_path) in err.value.message
    if NOTO_SANS_CJK.is_file():  # charts can still draw hanzi
        assert chart_font_file() == NOTO_SANS_CJK


@needs_fandol
@pytest.mark.skipif(not shutil.which("fc-match"), reason="fontconfig's fc-match is missing")
@pytest.mark.parametrize(
    ("name", "file"),
    [("仿宋_GB2312", "FandolFang-Regular.otf"), ("方正小标宋简体", "FandolSong-Regular.otf"),
     ("黑体", "FandolHei-Regular.otf"), ("楷体_GB2312", "FandolKai-Regular.otf"),
     ("宋体", "FandolSong-Regular.otf"), ("FangSong", "FandolFang-Regular.otf")],
)  # fmt: skip
def test_fontconfig_maps_official_names_to_fandol(tmp_path: Path, name: str, file: str) -> None:
    conf = write_fontconfig(tmp_path / "fonts.conf")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    out = subprocess.run(
        ["fc-match", "--format=%{file}", name], env=env, capture_output=True, check=True, text=True
    ).stdout
    assert Path(out) == DEBIAN / file  # the regular cut, although the bold one ties on weight
