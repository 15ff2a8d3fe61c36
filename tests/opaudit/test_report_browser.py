"""The HTML report in headless Chromium: tables, filter, sort, no requests, no script injection."""

from __future__ import annotations

import json
import time

import pytest

from opaudit.render.html import render_fix_html, render_inspect_html

try:
    from tests.opaudit.browser import chromium, load, sample_fix, sample_report  # noqa: F401 (fixture)
except ImportError:  # tests/ is not a package: pytest puts this directory on sys.path
    from browser import chromium, load, sample_fix, sample_report  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


def visible_rows(driver) -> int:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#node-table tbody tr')).filter(r => !r.hidden).length")


def wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def requests_made(driver, own_url: str) -> list[str]:
    """URLs the report page requested besides itself: CDP Network events that belong to the
    report's document (same loader as its navigation, or documentURL = the report; Chromium's own
    new-tab page keeps loading chrome:// resources in the same tab at start-up) and the page's
    resource-timing entries."""
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    sent = [m["params"] for m in events if m.get("method") == "Network.requestWillBeSent"]
    loaders = {p.get("loaderId") for p in sent if p["request"]["url"] == own_url}
    assert loaders, "the report's own navigation was not seen in the performance log"
    urls = [p["request"]["url"] for p in sent
            if (p.get("loaderId") in loaders or p.get("documentURL") == own_url) and p["request"]["url"] != own_url]
    urls += driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return urls


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def test_report_tables_filter_sort_and_no_network(chromium, pages):
    d = chromium
    rep = sample_report(400)
    lookup = lambda op: "crop_and_resize" if op.tf_op == "CropAndResize" else None  # noqa: E731
    url = load(d, render_inspect_html(rep, rule_lookup=lookup), pages, "report.html")
    n = len(rep.operators)
    assert d.execute_script("return document.querySelectorAll('#node-table tbody tr').length") == n
    assert visible_rows(d) == n
    matrix_rows = d.execute_script("return document.querySelectorAll('#matrix tbody tr').length")
    assert matrix_rows == len({o.op for o in rep.operators})

    # failing nodes shown with their layers
    flex = next(o for o in rep.operators if o.kind == "flex")
    failing = d.find_element("id", "failing").text
    assert flex.layer in failing and "FlexCropAndResize" in failing
    assert "rule: crop_and_resize" in failing and "no rule" in failing  # the custom NMS op has none

    # text filter
    box = d.find_element("id", "f-text")
    box.send_keys("FlexCrop")
    wait_for(lambda: visible_rows(d) == 1)
    assert d.find_element("id", "node-count").text == f"1 / {n}"
    box.clear()
    box.send_keys(" ")  # clear() fires no input event; an all-blank query matches everything
    wait_for(lambda: visible_rows(d) == n)

    # select filters
    d.execute_script("var s = document.getElementById('f-status'); s.value = 'blocked';"
                     "s.dispatchEvent(new Event('change'));")
    assert visible_rows(d) == 2
    d.execute_script("var s = document.getElementById('f-status'); s.value = '';"
                     "s.dispatchEvent(new Event('change'));")
    d.execute_script("var s = document.getElementById('f-kind'); s.value = 'flex';"
                     "s.dispatchEvent(new Event('change'));")
    assert visible_rows(d) == 1
    d.execute_script("var s = document.getElementById('f-kind'); s.value = '';"
                     "s.dispatchEvent(new Event('change'));")
    assert visible_rows(d) == n

    # sorting by Op, then descending, then back by node number
    first_op = "return document.querySelector('#node-table tbody tr').cells[1].textContent"
    heads = d.find_elements("css selector", "#node-table thead th")
    heads[1].click()
    ops = d.execute_script(
        "return Array.from(document.querySelectorAll('#node-table tbody tr')).map(r => r.cells[1].textContent)")
    assert ops == sorted(ops, key=str.lower) and ops[0] != ops[-1]
    heads[1].click()
    assert d.execute_script(first_op) == ops[-1]
    heads[0].click()
    assert d.execute_script("return document.querySelector('#node-table tbody tr').dataset.key") == "0:0"

    # row click opens the tensor details (built with textContent from the JSON block)
    d.find_element("css selector", f'tr[data-key="0:{flex.index}"]').click()
    panel = d.find_element("id", "details")
    assert panel.is_displayed() and f"out_{flex.index + 1}" in panel.text

    assert console_errors(d) == []
    assert requests_made(d, url) == []


def test_5000_nodes_filter_is_quick(chromium, pages):
    d = chromium
    rep = sample_report(5000)
    url = load(d, render_inspect_html(rep), pages, "big.html")
    n = len(rep.operators)
    assert d.execute_script("return document.querySelectorAll('#node-table tbody tr').length") == n
    t0 = time.monotonic()
    d.find_element("id", "f-text").send_keys("RESHAPE")
    wait_for(lambda: visible_rows(d) == sum(o.op == "RESHAPE" for o in rep.operators))
    took = time.monotonic() - t0
    print(f"5000-node filter round trip: {took:.2f} s")
    assert took < 5.0
    assert console_errors(d) == []
    assert requests_made(d, url) == []


def test_hostile_model_runs_no_script_and_keeps_layout(chromium, pages):
    d = chromium
    rep = sample_report(40, hostile=True)
    for name, html in (("hostile.html", render_inspect_html(rep)),
                       ("hostile_fix.html", render_fix_html(sample_fix(hostile=True), rep))):
        url = load(d, html, pages, name)
        assert d.execute_script("return typeof window.__pwned") == "undefined"
        assert d.execute_script("return document.images.length") == 0
        width = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1] + 4, width
        # open the details of the node named by the hostile custom code: our script runs (CSP
        # hash matches) and inserts the name as text
        custom = next(o for o in rep.operators if o.kind == "custom")
        d.execute_script(f"document.querySelector('tr[data-key=\"0:{custom.index}\"]').click()")
        assert "<script>window.__pwned=1</script>" in d.find_element("id", "details").text
        assert d.execute_script("return typeof window.__pwned") == "undefined"
        assert console_errors(d) == []
        assert requests_made(d, url) == []


def test_request_detector_sees_a_subresource(chromium, pages):
    """Positive control for `requests_made`: a page that loads a stylesheet is caught."""
    url = load(chromium, '<!DOCTYPE html><link rel="stylesheet" href="missing.css"><p>x</p>', pages, "leak.html")
    assert any(u.endswith("missing.css") for u in requests_made(chromium, url))
    chromium.get_log("browser")
