"""PDF from the .docx by LibreOffice headless, so that Word and PDF agree.

``to_pdf`` runs ``soffice --headless --convert-to pdf`` in a temporary folder with a profile of
its own (``-env:UserInstallation``: concurrent conversions never share one) and a fontconfig file
that adds the Fandol fonts and maps the official face names to them (``fonts.fontconfig_conf``,
given as ``FONTCONFIG_FILE``; nothing is installed system-wide). LibreOffice is an optional
dependency (Debian ``libreoffice-writer-nogui``): without it ``PdfUnavailable`` (503) names what
is missing. Bounds: at most ``QINGZHI_PDF_MAX_PARALLEL`` conversions per process at a time (each
LibreOffice takes ~150 MB), each killed with its process group after
``QINGZHI_PDF_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from qingzhi.config import get_settings
from qingzhi.errors import QingzhiError
from qingzhi.reports.render.fonts import font_dir, write_fontconfig

log = logging.getLogger(__name__)

PDF_SIGNATURE = b"%PDF-"
_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


class PdfUnavailable(QingzhiError):
    """LibreOffice (soffice) is not installed or not where QINGZHI_SOFFICE says."""

    code = "pdf_unavailable"
    status = 503
    message = "PDF 转换不可用：未安装 LibreOffice（libreoffice-writer-nogui）"


class PdfConversionFailed(QingzhiError):
    """LibreOffice ran but gave no PDF (or took too long)."""

    code = "pdf_failed"
    status = 503
    message = "PDF 转换失败，请稍后重试"


def soffice_path() -> str:
    """The LibreOffice program: QINGZHI_SOFFICE (a path or a name on PATH), else soffice."""
    configured = get_settings().soffice
    for name in (configured,) if configured else ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable(
        f"PDF 转换不可用：找不到 {configured}（QINGZHI_SOFFICE）" if configured else None,
        log_message=f"soffice not found (QINGZHI_SOFFICE={configured!r}, PATH)",
    )


def pdf_available() -> bool:
    """Whether PDF conversion can run here (LibreOffice and the Fandol fonts found)."""
    try:
        soffice_path()
        font_dir()
    except QingzhiError:
        return False
    return True


def _slot() -> threading.BoundedSemaphore:
    size = get_settings().pdf_max_parallel
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def to_pdf(docx: bytes, *, timeout: float | None = None) -> bytes:
    """Convert .docx bytes to PDF bytes with LibreOffice headless."""
    program = soffice_path()
    fonts = font_dir()
    limit = timeout if timeout is not None else get_settings().pdf_timeout_seconds
    with _slot(), tempfile.TemporaryDirectory(prefix="qingzhi-pdf-") as tmp:
        work = Path(tmp)
        source = work / "document.docx"
        source.write_bytes(docx)
        env = dict(os.environ)
        env["FONTCONFIG_FILE"] = str(write_fontconfig(work / "fonts.conf", fonts))
        command = [
            program,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(work),
            str(source),
        ]
        started = time.monotonic()
        output = _run(command, env=env, cwd=work, timeout=limit)
        result = work / "document.pdf"
        if not result.is_file():
            raise PdfConversionFailed(
                log_message=f"soffice gave no PDF: {output[-2000:]!r}",
            )
        pdf = result.read_bytes()
        log.info(
            "pdf: %d bytes docx -> %d bytes pdf in %.1f s",
            len(docx),
            len(pdf),
            time.monotonic() - started,
        )
    if not pdf.startswith(PDF_SIGNATURE):
        raise PdfConversionFailed(log_message="soffice output is not a PDF")
    return pdf


def _run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run ``command`` in its own process group; kill the whole group on timeout."""
    process = subprocess.Popen(  # noqa: S603 - a fixed program and arguments, no shell
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise PdfConversionFailed(
            f"PDF 转换超时（超过 {timeout:g} 秒）",
            log_message=f"soffice timed out after {timeout} s",
        ) from None
    finally:
        if process.poll() is None:  # pragma: no cover - only on an unexpected error
            _kill_group(process)
    text = out.decode("utf-8", "replace") if out else ""
    if process.returncode != 0:
        log.warning("soffice exited %s: %s", process.returncode, text[-2000:])
    return text


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
