"""report.html in a real browser: Debian's chromium, driven by Playwright (never a browser download).

The page is opened from disk (file://) with every request routed: anything that is not a file:// or
data: URL is aborted and fails the test, as does any console error or page error. The tests skip only
when no chromium is installed (scripts/test.sh installs it, so CI runs them); with chromium present,
a missing Playwright fails them with the command that installs it. $HARNESS_CHROMIUM names another
Chromium-family executable.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import _html_runs  # noqa: E402
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_CHROMIUM = "bash scripts/install_chromium.sh (scripts/test.sh runs it)"
INSTALL_PLAYWRIGHT = "pip install -e '.[test]' (scripts/setup.sh does; it downloads no browser)"


def system_chromium() -> str | None:
    """The browser the tests drive: $HARNESS_CHROMIUM (must exist), else chromium on PATH, else None."""
    named = os.environ.get("HARNESS_CHROMIUM")
    if named:
        path = shutil.which(named)
        if path is None:
            pytest.fail(
                f"HARNESS_CHROMIUM={named!r} is not an executable: unset it or point it at a Chromium-family browser.",
                pytrace=False,
            )
        return path
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


CHROMIUM = system_chromium()
if CHROMIUM is None:
    pytest.skip(
        f"no chromium installed (looked for {', '.join(CHROMIUM_NAMES)} on PATH): install it with {INSTALL_CHROMIUM}",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            f"chromium is installed but Playwright, which drives it, is not: {INSTALL_PLAYWRIGHT}.", pytrace=False
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A page opened from disk, with the network fenced off and its console watched."""

    def __init__(self, browser, path: Path, fragment: str = "", *, bypass_csp: bool = False):
        self.blocked: list[str] = []
        self.errors: list[str] = []
        # bypass_csp: without the page's Content-Security-Policy, so that escaping alone is what is tested
        self.page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(path.resolve().as_uri() + fragment)
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def count(self) -> int:
        return int(self.page.inner_text("#filter-count").split(" of ")[0])

    def wait_count(self, n: int, seconds: float = 5.0) -> None:
        """Wait for the (debounced) search to show ``n`` samples."""
        import time

        deadline = time.monotonic() + seconds
        while self.count() != n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.count() == n

    def choose(self, name: str, value: str) -> None:
        self.page.select_option(f"select[name={name}]", value)

    def check_clean(self) -> None:
        assert self.blocked == [], f"the page asked the network for {self.blocked}"
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.page.evaluate("window.__pwned") is None, "a completion's markup ran as script"
        self.page.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from harness.host.manager import PluginHost, set_host
    from harness.testing import registered_plugin

    tmp = tmp_path_factory.mktemp("html")
    host = PluginHost().load()
    old = set_host(host)
    try:
        with registered_plugin(_html_runs.Plugin(), name="html-fixed", host=host):
            a = _html_runs.run(tmp, _html_runs.HOSTILE_DIR, "hostile", circular=True, limit=8)
            b = _html_runs.run(tmp, "plain", "b", circular=True, limit=8)
            from click.testing import CliRunner

            from harness.cli import build_cli

            out = CliRunner().invoke(build_cli(), ["report", str(a), str(b), "--html-output", str(tmp / "cmp.html")])
            assert out.exit_code == 0, out.output
            study = _html_runs.study(tmp)
    finally:
        set_host(old)
    return a, b, tmp / "cmp.html", study


def test_table_matches_results_json(browser, runs):
    a, *_ = runs
    results = json.loads((a / "results.json").read_text())
    page = Page(browser, a / "report.html")
    rows = page.page.eval_on_selector_all(
        "#tables h3:has-text('Accuracy') + .table-wrap tbody tr",
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent))",
    )
    assert [r[0] for r in rows] == results["config"]["tasks"]
    for row in rows:
        for template, text in zip(results["config"]["templates"], row[1:]):
            entry = results["results"][row[0]][template]
            low, high = entry["ci95"]
            assert text.startswith(f"{100 * entry['accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}] n={entry['n']}")
            assert text.endswith("[syn]")
    assert page.page.locator("figure img").count() >= 1  # results.png, embedded
    page.check_clean()


def test_filters_count_what_the_logs_hold(browser, runs):
    from harness.evaluation.records import read_records

    a, *_ = runs
    groups: dict[tuple[str, str], dict[str, bool]] = {}
    for path in (a / "samples").glob("*.jsonl"):
        task, template = path.stem.split(".")
        for r in read_records(path, repair=False):
            cell = groups.setdefault((task, template), {})
            cell[r["group"]] = cell.get(r["group"], True) and r["correct"]
    page = Page(browser, a / "report.html")
    assert page.count() == sum(len(g) for g in groups.values())
    page.choose("task", "banner")
    assert page.count() == sum(len(g) for (t, _), g in groups.items() if t == "banner")
    page.choose("template", "think")
    page.choose("verdict", "correct")
    right = sum(groups[("banner", "think")].values())
    assert page.count() == right and 0 < right < len(groups[("banner", "think")])
    assert page.page.locator("#sample-list li").count() == right
    page.choose("verdict", "incorrect")
    assert page.count() == len(groups[("banner", "think")]) - right
    page.page.click("text=reset")
    page.page.fill("#search", "sat-test-0-00003")
    page.wait_count(2)  # its think and nothink entries
    page.page.fill("#search", "")
    page.wait_count(sum(len(g) for g in groups.values()))
    page.choose("hack", "*any")
    flagged = page.count()
    page.choose("hack", "*none")
    assert flagged + page.count() == sum(len(g) for g in groups.values())
    page.check_clean()


def test_sample_links_and_keyboard_navigation(browser, runs):
    a, *_ = runs
    key = "sat.think.sat-test-0-00002"
    page = Page(browser, a / "report.html", "#s=" + key.replace(".", "%2E"))
    assert page.page.inner_text("#sample-detail h3") == "sat · think · sat-test-0-00002"
    assert page.page.locator("#sample-detail .images img").count() == 2  # sat's two images, as thumbnails
    assert page.page.locator("#sample-detail .rotation").count() == 4  # a circular sample's rotations
    page.page.keyboard.press("j")
    assert page.page.evaluate("location.hash") == "#s=sat.think.sat-test-0-00003"
    assert page.page.inner_text("#sample-detail h3") == "sat · think · sat-test-0-00003"
    page.page.keyboard.press("k")
    assert page.page.inner_text("#sample-detail h3") == "sat · think · sat-test-0-00002"
    # a link clicked in the list opens its sample
    page.page.click("#sample-list a[data-key='banner.nothink.banner-test-0-00001']")
    page.page.wait_for_url("**#s=banner.nothink.banner-test-0-00001")
    assert page.page.inner_text("#sample-detail h3") == "banner · nothink · banner-test-0-00001"
    page.check_clean()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_hostile_completion_is_text_and_does_not_run(browser, runs, bypass_csp):
    a, *_ = runs
    page = Page(browser, a / "report.html", "#s=banner.think.banner-test-0-00000", bypass_csp=bypass_csp)
    think = page.page.locator("#sample-detail .seg-think").first.text_content()
    assert _html_runs.HOSTILE in think
    assert page.page.locator("#sample-detail .seg-final").first.text_content() == "positive"
    assert page.page.locator("img[src='x']").count() == 0 and page.page.locator("b").count() == 0
    # the output directory's name (quotes, an element) is the page's label and the samples' source: text
    assert _html_runs.HOSTILE_DIR in page.page.inner_text("header .subtitle")
    assert page.page.inner_text("#runs h3") == _html_runs.HOSTILE_DIR
    assert _html_runs.HOSTILE_DIR in page.page.locator("#sample-detail .source").first.text_content()
    page.page.keyboard.press("j")  # render more of them
    page.page.fill("#search", "onerror")  # every completion of this run holds it
    page.wait_count(int(page.page.inner_text("#filter-count").split(" of ")[1].split()[0]))
    page.check_clean()


def test_screenshot_is_not_blank(browser, runs, tmp_path):
    from PIL import Image, ImageStat

    a, *_ = runs
    page = Page(browser, a / "report.html", "#s=sat.think.sat-test-0-00001")
    shot = tmp_path / "page.png"
    page.page.screenshot(path=str(shot))
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    assert max(ImageStat.Stat(image).stddev) > 20  # text, tables and thumbnails, not one flat colour
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 50
    page.check_clean()


def test_paired_view_lists_the_mcnemar_cells(browser, runs):
    from harness.evaluation.compare import compare_runs
    from harness.evaluation.report import load_results

    a, b, cmp, _ = runs
    expected = {
        (c["task"], c["template"]): c
        for c in compare_runs([("hostile", a, load_results(a)), ("plain", b, load_results(b))])
    }
    page = Page(browser, cmp)
    buttons = page.page.locator("button.cell-button")
    assert buttons.count() == 4 * len(expected)
    data = json.loads(page.page.text_content("#report-data"))
    for i, c in enumerate(data["comparisons"]):
        want = expected[(c["task"], c["template"])]
        for cell, n in (("only_a", want["only_a"]), ("only_b", want["only_b"])):
            button = page.page.locator(f"button[data-cmp='{i}'][data-cell='{cell}']")
            assert int(button.get_attribute("data-count")) == n
            button.click()
            assert page.count() == n
        total = sum(
            int(page.page.locator(f"button[data-cmp='{i}'][data-cell='{w}']").get_attribute("data-count"))
            for w in ("only_a", "only_b", "both", "neither")
        )
        assert total == want["n"]
    assert any(e["only_a"] for e in expected.values()) and any(e["only_b"] for e in expected.values())
    # a sample of the cell shows both runs' completions side by side
    page.page.locator("button[data-cell='only_a']").first.click()
    assert page.page.locator("#sample-detail .run-col").count() == 2
    page.check_clean()


def test_study_page_pairs_the_three_models_on_each_sample(browser, runs):
    *_, study = runs
    page = Page(browser, study)
    data = json.loads(page.page.text_content("#report-data"))
    assert [
        h.strip()
        for h in page.page.eval_on_selector_all(
            "#sample-detail .run-col h4", "hs => hs.map(h => h.textContent.split(':')[0])"
        )
    ] == ["Training-free", "SFT", "RFT"]
    # SFT vs training-free, think (they answer differently): the cell buttons count what the paired test
    # counted and list those samples; RFT's completions are the hostile ones, and run no script
    i = next(i for i, c in enumerate(data["comparisons"]) if c["run"] == 1 and c["template"] == "think")
    want = data["comparisons"][i]
    assert want["only_a"] and want["only_b"]
    for cell in ("only_a", "only_b"):
        button = page.page.locator(f"button[data-cmp='{i}'][data-cell='{cell}']")
        assert int(button.get_attribute("data-count")) == want[cell]
        button.click()
        assert page.count() == want[cell]
    assert page.page.locator("#tables table").count() >= 1  # Table 1
    page.check_clean()
