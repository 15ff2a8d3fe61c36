"""The committed example report (reports/) exists, is self-contained, and is not stale: it was
written by the current renderer (regenerate with scripts/refresh_example_report.sh)."""

import re
from pathlib import Path

from opaudit.render.html import renderer_fingerprint

EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "mrcnn-small-fix.html"


def test_example_report_is_current():
    html = EXAMPLE.read_text(encoding="utf-8")
    m = re.search(r'<meta name="opaudit-renderer" content="([0-9a-f]+)">', html)
    assert m, "example report lacks the renderer fingerprint"
    assert m.group(1) == renderer_fingerprint(), (
        "reports/mrcnn-small-fix.html was written by an older renderer: run scripts/refresh_example_report.sh")


def test_example_report_is_self_contained_and_small():
    html = EXAMPLE.read_text(encoding="utf-8")
    assert EXAMPLE.stat().st_size < 3_000_000
    assert "Content-Security-Policy" in html
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "fixed" in html.lower() and "mrcnn_detection" in html
