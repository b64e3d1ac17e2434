"""The report of the default scenario in a real headless browser, without a network.

Opens ``report.html`` from ``file://`` in Debian's chromium through Playwright, records every
request the page makes and checks that none leaves the file, that every image decoded and
that the tables and the four answers are there. The screenshot is kept in the test's
temporary folder for a person to look at.
"""

from pathlib import Path

import pytest

from simulation.config import load_scenario
from simulation.figures import FIGURES
from simulation.runner import run_scenario

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The page after load: (page facts, requests, screenshot path)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    scen, path = load_scenario("classroom")
    run_dir = run_scenario(scen, scenario_path=path, out=tmp / "run")["run_dir"]
    url = (run_dir / "report.html").resolve().as_uri()
    shot = tmp / "report.png"
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            # offline=True: any attempt to reach a network fails instead of hanging.
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            facts = page.evaluate(
                """() => ({
                    images: Array.from(document.images).map(i => ({
                        complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
                        shown: i.getBoundingClientRect().width})),
                    tables: Array.from(document.querySelectorAll('table')).map(t => ({
                        cls: t.className, rows: t.querySelectorAll('tbody tr').length})),
                    sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
                    answers: Array.from(document.querySelectorAll('.answer .q'))
                        .map(q => q.innerText),
                    big: Array.from(document.querySelectorAll('.answer .big'))
                        .map(b => b.innerText),
                    title: document.title,
                    overflow: document.documentElement.scrollWidth > window.innerWidth,
                })"""
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return facts, requests, shot, url


def test_no_request_leaves_the_file(loaded):
    _, requests, _, url = loaded
    assert requests and requests[0] == url
    outside = [r for r in requests if not r.startswith(("file://", "data:"))]
    assert not outside, f"the page asked the network for {outside}"


def test_every_image_loaded(loaded):
    facts, *_ = loaded
    images = facts["images"]
    assert len(images) == len(FIGURES)
    for img in images:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0
        assert img["shown"] > 300  # large enough to read, not collapsed


def test_tables_sections_and_answers_present(loaded):
    facts, *_ = loaded
    classes = " ".join(t["cls"] for t in facts["tables"])
    for cls in ("saturation", "concentration", "ids-published", "ids-full", "indicators"):
        assert cls in classes
    assert all(t["rows"] > 0 for t in facts["tables"])
    for sec in ("answers", "saturation", "income", "disclosure", "indicators", "genealogy"):
        assert sec in facts["sections"]
    assert len(facts["answers"]) == 4
    assert facts["big"][0].endswith("%") and facts["big"][2].startswith("level ")
    assert facts["title"].startswith("mlmsim report")
    assert not facts["overflow"], "the page scrolls sideways at 1280 px"


def test_screenshot_written(loaded):
    *_, shot, _ = loaded
    assert shot.stat().st_size > 100_000
