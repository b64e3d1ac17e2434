"""An ensemble's report (``mlmsim run --seeds N``) in a real headless browser, offline.

Opens ``report.html`` of a small ensemble from ``file://`` in Debian's chromium through
Playwright: no request leaves the file, every image decodes, the four cards each show a
median with its interval line, the page does not scroll sideways, and the run shown in
detail brings every section of a run's page.
"""

from pathlib import Path

import pytest

from simulation.cli import main
from simulation.report import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def test_ensemble_page_offline(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "ens"
    code = main(["run", "--seeds", "3", "--workers", "1", "--set", "market.population=600",
                 "--months", "18", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    url = (out / "report.html").resolve().as_uri()
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            facts = page.evaluate(
                """() => ({
                    images: Array.from(document.images).map(i => i.complete && i.naturalWidth),
                    big: Array.from(document.querySelectorAll('.answer .big'))
                        .map(b => b.innerText),
                    bands: Array.from(document.querySelectorAll('.answer .band'))
                        .map(b => b.innerText),
                    sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
                    overflow: document.documentElement.scrollWidth > window.innerWidth,
                })"""
            )
            page.screenshot(path=str(tmp_path / "ensemble.png"), full_page=True)
        finally:
            browser.close()
    assert requests[0] == url
    assert not [r for r in requests if not r.startswith(("file://", "data:"))]
    assert facts["images"] and all(facts["images"])
    assert len(facts["big"]) == 4 and len(facts["bands"]) == 4
    assert all("90% interval" in b and "3 runs" in b for b in facts["bands"]), facts["bands"]
    assert not facts["overflow"]
    for key, _ in SECTIONS:
        assert key in facts["sections"]
    assert {"ensemble", "detail"} <= set(facts["sections"])
