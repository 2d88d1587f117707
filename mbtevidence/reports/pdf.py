"""A PDF of each report page, printed by a browser already on the machine (nothing is downloaded).

Debian's Chromium (``chromium --headless --print-to-pdf``) when it is installed, else WeasyPrint
when that Python package is importable; with neither, no PDF is written and the render says so.
Chromium runs with every host name mapped to nothing, so a page could not load anything from
the network even if it tried.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def pdf_engine() -> str | None:
    """'chromium', 'weasyprint' or None: what :func:`write_pdf` would use."""
    if chromium():
        return "chromium"
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return None
    return "weasyprint"


def write_pdf(page: Path, pdf: Path, timeout: float = 120) -> bool:
    """Print ``page`` (an HTML file) to ``pdf``; False when no PDF engine is installed.

    Raises
    ------
    RuntimeError
        When the engine fails (its last message in one line).
    """
    engine = pdf_engine()
    if engine is None:
        return False
    if engine == "weasyprint":
        import weasyprint

        weasyprint.HTML(filename=str(page)).write_pdf(str(pdf))
        return True
    with tempfile.TemporaryDirectory(prefix="mbtevidence-chromium-") as profile:
        command = [
            str(chromium()),
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"chromium did not print {page.name} within {timeout:g} s") from None
    if not pdf.is_file() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"chromium could not print {page.name}: {last}")
    return True


__all__ = ["chromium", "pdf_engine", "write_pdf"]
