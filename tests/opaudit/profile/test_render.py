"""Profile renderers: the same data in the terminal, the profile page and the fix report; names from
the model are inert everywhere."""

import io

from rich.console import Console

from opaudit.profile.aggregate import runtime_settings
from opaudit.render.html import render_fix_html
from opaudit.render.profile_html import render_profile_html
from opaudit.render.profile_terminal import render
from tests.opaudit.profile.test_aggregate import profile

HOSTILE = "<script>alert(1)</script>\x1b[2J[bold]x[/]"


def hostile_profile():
    p = profile()
    for n in p.nodes:
        n.layer = HOSTILE
    p.hotspots = p.nodes
    p.op_types[0].name = HOSTILE
    return p


def test_terminal_is_inert():
    out = io.StringIO()
    render(hostile_profile(), Console(file=out, width=200, highlight=False))
    text = out.getvalue()
    assert "\x1b[2J" not in text and "\\x1b" in text and "[bold]x[/]" in text
    assert "trust (xnnpack)" in text and "fastest: num_threads=2" in text


def test_html_pages_escape_and_show_the_sections():
    p = hostile_profile()
    page = render_profile_html(p.to_dict())
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert 'id="latency"' in page and "Hot spots" in page and "Per op type" in page
    fix = {"status": "fixed", "model": {"source": "m"}, "tool": {}, "runtime": runtime_settings(p), "profile": p.to_dict()}
    page = render_fix_html(fix)
    assert 'id="runtime"' in page and 'id="latency"' in page and "<script>alert(1)" not in page
    assert 'href="#latency"' in page and "num_threads=2" in page
    plain = render_fix_html({"status": "failed", "model": {"source": "m"}, "tool": {}})
    assert 'id="latency"' not in plain and 'id="runtime"' not in plain
