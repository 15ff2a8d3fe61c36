"""The latency profile as a self-contained HTML page (`opaudit profile --html`).

Same page machinery as the inspect and fix reports (`render.html`: inline assets under a CSP,
Jinja2 autoescape); the section itself is `templates/_profile_body.html.j2`, which the fix
report includes too when `fix.json` carries a `profile`.
"""

from __future__ import annotations

from typing import Any

from opaudit.render.html import _page


def render_profile_html(prof: dict[str, Any]) -> str:
    """`prof` is `Profile.to_dict()`; returns the page as text."""
    return _page("profile.html.j2", f"profile {prof.get('path', '')}", {"prof": prof, "data": {}})
