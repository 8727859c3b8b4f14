"""The fonts of the documents: GB/T 9704's official faces and the free Fandol fonts standing in.

GB/T 9704-2012 sets the title in 方正小标宋 (2号), the body in 仿宋_GB2312 (3号), level-1 headings
in 黑体 and level-2 in 楷体_GB2312, page numbers in 宋体 (4号). Those fonts are proprietary. The
Fandol fonts (FandolSong, FandolFang, FandolKai, FandolHei; GPL-3 with the font exception, so a
document embedding them is not covered by the GPL; see ``FONTS.md``) cover all 6,763 GB2312 hanzi
(cwTeX FangSong lacks 垫 and 县: unusable for 垫江县) and come with Debian's
``texlive-lang-chinese``. They are found in ``QINGZHI_FONT_DIR`` when set (an error when it does
not hold them: no silent fallback), else in the known Debian/TeX Live folders.

How the two meet: the .docx names the OFFICIAL faces (``FACES[...].official``), so an intranet
Word with 方正小标宋简体/仿宋_GB2312 installed shows exactly the official layout; its font table
lists the Fandol family as each face's ``w:altName`` for a Word that lacks them. LibreOffice
(PDF) finds faces through fontconfig: ``fontconfig_conf`` writes a configuration that includes
the system's, adds the Fandol folder and maps each official name (and its common Windows
aliases) to its Fandol face, passed to soffice as ``FONTCONFIG_FILE``, so nothing is installed
system-wide and the PDF embeds Fandol. Charts use the font files directly (``font_file``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError

log = logging.getLogger(__name__)

# Where Debian's texlive-lang-chinese (and an upstream TeX Live) put the Fandol fonts.
FANDOL_DIRS: tuple[Path, ...] = (
    Path("/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol"),
    Path("/usr/share/texmf/fonts/opentype/public/fandol"),
    Path("/usr/local/share/fonts/fandol"),
)
# A CJK fallback for charts where Fandol is missing (Debian fonts-noto-cjk).
NOTO_SANS_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SYSTEM_FONTCONFIG = Path("/etc/fonts/fonts.conf")


# Characters the Fandol fonts lack, and what to write instead (U+2212 minus, U+2015 bar).
FANDOL_REPLACEMENTS = str.maketrans({"\u2212": "-", "\u2015": "\u2014"})


class FontsMissing(QingzhiError):
    """The Fandol fonts are not installed (or not where QINGZHI_FONT_DIR says)."""

    code = "fonts_missing"
    status = 503
    message = "未找到 Fandol 字体：请安装 texlive-lang-chinese，或设置 QINGZHI_FONT_DIR"


@dataclass(frozen=True)
class Face:
    """A GB/T 9704 face: the official name Word knows and the Fandol file that stands in."""

    key: str
    official: str  # the name written into the .docx
    fandol: str  # the Fandol family name
    file: str  # the Fandol file
    aliases: tuple[str, ...] = ()  # other names of the face (Windows' built-in ones, English)


FACES: dict[str, Face] = {
    "title": Face(
        "title",
        "方正小标宋简体",
        "FandolSong",
        "FandolSong-Regular.otf",
        aliases=("方正小标宋_GBK", "方正小标宋", "FZXiaoBiaoSong-B05S"),
    ),
    "song": Face("song", "宋体", "FandolSong", "FandolSong-Regular.otf", aliases=("SimSun",)),
    "fang": Face(
        "fang", "仿宋_GB2312", "FandolFang", "FandolFang-Regular.otf", aliases=("仿宋", "FangSong")
    ),
    "kai": Face(
        "kai", "楷体_GB2312", "FandolKai", "FandolKai-Regular.otf", aliases=("楷体", "KaiTi")
    ),
    "hei": Face("hei", "黑体", "FandolHei", "FandolHei-Regular.otf", aliases=("SimHei",)),
}


def _complete(folder: Path) -> bool:
    return all((folder / f.file).is_file() for f in FACES.values())


def font_dir() -> Path:
    """The folder holding the Fandol fonts: QINGZHI_FONT_DIR, else a known Debian path."""
    configured = get_settings().font_dir
    if configured is not None:
        if not _complete(configured):
            missing = [f.file for f in FACES.values() if not (configured / f.file).is_file()]
            raise FontsMissing(
                f"QINGZHI_FONT_DIR={configured} 中缺少字体文件：{'、'.join(missing)}",
                log_message=f"font dir {configured} lacks {missing}",
            )
        return configured
    for folder in FANDOL_DIRS:
        if _complete(folder):
            return folder
    raise FontsMissing(log_message=f"no Fandol fonts in {[str(d) for d in FANDOL_DIRS]}")


def fonts_available() -> bool:
    """Whether the Fandol fonts can be found."""
    try:
        font_dir()
    except FontsMissing:
        return False
    return True


def font_file(key: str) -> Path:
    """The Fandol file standing in for face ``key`` (title, song, fang, kai, hei)."""
    return font_dir() / FACES[key].file


def chart_font_file() -> Path:
    """The font for chart text: FandolHei, else Noto Sans CJK; FontsMissing if neither."""
    try:
        return font_file("hei")
    except FontsMissing:
        if NOTO_SANS_CJK.is_file():
            log.warning("Fandol fonts missing; charts use %s", NOTO_SANS_CJK)
            return NOTO_SANS_CJK
        raise


def fontconfig_conf(folder: Path | None = None) -> str:
    """A fontconfig configuration: the system's, plus the Fandol folder and the name mapping."""
    folder = folder or font_dir()
    rules = []
    for face in FACES.values():
        # FandolSong-Bold and FandolHei-Bold declare a regular weight (OS/2 400), so a request
        # by weight ties with the regular cut: ask for the regular cut by its style name.
        cut = '<edit name="style" mode="assign" binding="strong"><string>Regular</string></edit>'
        for name in (face.official, *face.aliases):
            rules.append(
                f'  <match target="pattern">'
                f'<test name="family" qual="any"><string>{escape(name)}</string></test>'
                f'<edit name="family" mode="assign" binding="strong">'
                f"<string>{face.fandol}</string></edit>{cut}</match>"
            )
    return (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<!-- qingzhi: the Fandol fonts stand in for the GB/T 9704 official faces -->\n"
        "<fontconfig>\n"
        f'  <include ignore_missing="yes">{escape(str(SYSTEM_FONTCONFIG))}</include>\n'
        f"  <dir>{escape(str(folder))}</dir>\n" + "\n".join(rules) + "\n</fontconfig>\n"
    )


def write_fontconfig(target: Path, folder: Path | None = None) -> Path:
    """Write ``fontconfig_conf`` to ``target`` (for ``FONTCONFIG_FILE``); returns ``target``."""
    target.write_text(fontconfig_conf(folder), encoding="utf-8")
    return target
