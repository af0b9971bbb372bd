"""report.html without a browser: escaping, completion marking, thumbnails, the page's data against
results.json and the sample logs, and where `harness eval`, `harness report` and the study write it.
The page in a real browser: tests/test_report_html_browser.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import _html_runs  # noqa: E402
import pytest

from harness.evaluation.html_page import json_script, markdown_html
from harness.evaluation.html_samples import THUMB_MAX_BYTES, segments, thumbnail


@pytest.fixture
def fixed(fresh_host):
    from harness.testing import registered_plugin

    with registered_plugin(_html_runs.Plugin(), name="html-fixed", host=fresh_host):
        yield


def page_data(path: Path, element: str = "report-data"):
    text = path.read_text(encoding="utf-8")
    m = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', text, re.S)
    assert m, f"no {element} block in {path}"
    return json.loads(m.group(1))


def test_json_script_cannot_be_closed_by_its_data_and_round_trips():
    hostile = {"c": "</script><script>alert(1)</script> <!-- & \u2028\u2029 </SCRIPT >", "k": ["<b>", None, 1.5]}
    block = json_script("x", hostile)
    inner = block[len('<script type="application/json" id="x">') : -len("</script>")]
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert "\u2028" not in inner and "\u2029" not in inner
    assert json.loads(inner) == hostile


def test_segments_mark_think_answers_and_the_final_answer():
    pieces, cut = segments("", "<think>so B</think>x<answer>A</answer> <answer>B</answer>")
    assert cut == 0
    assert pieces == [
        ["tag", "<think>"],
        ["think", "so B"],
        ["tag", "</think>"],
        ["text", "x"],
        ["tag", "<answer>"],
        ["answer", "A"],
        ["tag", "</answer>"],
        ["text", " "],
        ["tag", "<answer>"],
        ["final", "B"],
        ["tag", "</answer>"],
    ]
    # a template that pre-filled <think>: the prefill is marked, and the thought is a thought
    pieces, _ = segments("<think>", "hmm</think><answer>4</answer>")
    assert pieces[:3] == [["tag", "<think>"], ["think", "hmm"], ["tag", "</think>"]]
    pieces, _ = segments("", "still thinking</think><answer>4</answer>")
    assert pieces[0] == ["think", "still thinking"]


def test_long_completions_keep_head_and_tail_and_say_what_was_cut():
    text = "<think>" + "x" * 10_000 + "</think><answer>B</answer>"
    pieces, cut = segments("", text, limit=1000, tail=300)
    shown = "".join(p[1] for p in pieces if p[0] != "cut")
    assert cut == len(text) - 1000 and len(shown) == 1000
    assert pieces[-2] == ["final", "B"]  # the answer, at the end, is kept
    assert [p[0] for p in pieces].count("cut") == 1 and f"{cut:,}" in next(p[1] for p in pieces if p[0] == "cut")


def test_thumbnails_stay_under_their_byte_cap():
    import base64

    import numpy as np
    from PIL import Image

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    for image in (noise, Image.new("L", (40, 3000), 128), Image.new("RGBA", (2, 2))):
        uri = thumbnail(image)
        assert uri.startswith("data:image/jpeg;base64,")
        assert len(base64.b64decode(uri.split(",", 1)[1])) <= THUMB_MAX_BYTES


def test_markdown_tables_are_the_reports_cells_and_markup_stays_text():
    md = "# R\n\n- **run**: model `/m/<script>x`\n\n## T\n\n| a | b |\n|---|---|\n| 1.0 [0.5, 2] n=3 [syn] | <img src=x><br>+1 ▲ |\n"
    html = markdown_html(md)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;x" in html and "&lt;img src=x&gt;<br>+1" in html
    assert '<span class="mark-syn">[syn]</span>' in html and '<span class="mark-up">▲</span>' in html


def _records(directory: Path):
    from harness.evaluation.records import read_records

    return {p.stem: read_records(p, repair=False) for p in sorted((directory / "samples").glob("*.jsonl"))}


def test_eval_writes_the_page_with_every_sample_and_per_sample_indicators_that_add_up(tmp_path, fixed):
    out = _html_runs.run(tmp_path, "a", "hostile", circular=True)
    page = out / "report.html"
    assert page.is_file()
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert "window.__pwned" not in text.split('id="report-data">', 1)[0]  # the completions live in JSON only
    data = page_data(page)
    results = json.loads((out / "results.json").read_text())
    records = _records(out)
    # one entry per sample (a circular question's rotations together), n as in results.json
    for task, per_template in results["results"].items():
        for template, entry in per_template.items():
            entries = [s for s in data["samples"] if s["task"] == task and s["template"] == template]
            assert len(entries) == entry["n"]
            assert sum(len(s["runs"][0]["rots"]) for s in entries) == len(records[f"{task}.{template}"])
            assert sum(s["runs"][0]["ok"] for s in entries) == round(entry["accuracy"] * entry["n"])
            # each indicator's share of completions, recounted from the per-sample flags
            rots = [r for s in entries for r in s["runs"][0]["rots"]]
            for name, share in entry["hacking"].items():
                if name == "hack/length_share":
                    continue
                assert sum(name in r["hacks"] for r in rots) / len(rots) == pytest.approx(share), (task, name)
    sat = [s for s in data["samples"] if s["task"] == "sat"]
    assert all(len(s["runs"][0]["rots"]) > 1 for s in sat)  # rotations kept together
    images = page_data(page, "report-images")
    assert all(s["img"] in images and 1 <= len(images[s["img"]]) <= 4 for s in data["samples"])
    assert any(len(images[s["img"]]) == 2 for s in sat)  # sat shows two images
    hostile = next(p[1] for p in data["samples"][0]["runs"][0]["rots"][0]["text"] if p[0] == "think")
    assert _html_runs.HOSTILE in hostile
    assert results["run"]["command"].split()[0] == Path(sys.argv[0]).name  # the command that wrote it


def test_no_html_removes_an_older_page(tmp_path, fixed):
    out = _html_runs.run(tmp_path, "a", "a")
    assert (out / "report.html").is_file()
    _html_runs.run(tmp_path, "a", "a", html=False)
    assert not (out / "report.html").exists()


def test_harness_report_writes_the_paired_page_with_the_mcnemar_cells(tmp_path, fixed, monkeypatch):
    from click.testing import CliRunner

    from harness.cli import build_cli
    from harness.evaluation.compare import compare_runs
    from harness.evaluation.report import load_results

    a = _html_runs.run(tmp_path, "run-a", "a")
    b = _html_runs.run(tmp_path, "run-b", "b")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_cli(), ["report", str(a), str(b), "-o", "cmp.md"])
    assert result.exit_code == 0, result.output
    assert "Wrote cmp.html." in result.output
    data = page_data(tmp_path / "cmp.html")
    assert data["runs"] == ["run-a", "run-b"]
    expected = compare_runs([("run-a", a, load_results(a)), ("run-b", b, load_results(b))])
    assert [(c["task"], c["template"], c["n"], c["only_a"], c["only_b"]) for c in data["comparisons"]] == [
        (c["task"], c["template"], c["n"], c["only_a"], c["only_b"]) for c in expected
    ]
    assert any(c["only_a"] and c["only_b"] for c in expected)  # the two runs do disagree both ways
    # the entries pair the runs sample by sample
    assert all(s["runs"][0] and s["runs"][1] for s in data["samples"])
    # images decoded again from each run's recorded data (several tasks, each with its own source):
    # the same thumbnails as the page `harness eval` wrote from its planned units
    eval_images = page_data(a / "report.html", "report-images")
    assert data["notes"] == [] and page_data(tmp_path / "cmp.html", "report-images") == eval_images
    assert {s["img"] for s in data["samples"]} == set(eval_images)
    # one DIR: its own report.html, written again, with the same thumbnails
    (a / "report.html").unlink()
    result = CliRunner().invoke(build_cli(), ["report", str(a), "--html"])
    assert result.exit_code == 0 and (a / "report.html").is_file()
    assert page_data(a / "report.html", "report-images") == eval_images
    # without --html, one DIR's page is left as `harness eval` wrote it
    before = (b / "report.html").stat().st_mtime_ns
    for flags in ([], ["--no-html"]):
        result = CliRunner().invoke(build_cli(), ["report", str(b), *flags])
        assert result.exit_code == 0 and "report.html" not in result.output
        assert (b / "report.html").stat().st_mtime_ns == before
    result = CliRunner().invoke(build_cli(), ["report", str(a), str(b), "--no-html", "-o", "again.md"])
    assert result.exit_code == 0 and not (tmp_path / "again.html").exists()
    # no -o: beside the runs, named after them
    result = CliRunner().invoke(build_cli(), ["report", str(a), str(b)])
    assert result.exit_code == 0 and f"Wrote {tmp_path / 'report-run-a-vs-run-b.html'}." in result.output


def test_study_page_puts_the_three_models_on_each_sample(tmp_path, fixed):
    page = _html_runs.study(tmp_path)
    data = page_data(page)
    assert data["runs"] == ["Training-free", "SFT", "RFT"]
    assert data["samples"] and all(all(r is not None for r in s["runs"]) for s in data["samples"])
    assert {(c["baseline"], c["run"]) for c in data["comparisons"]} == {(0, 1), (0, 2)}
    html = page.read_text(encoding="utf-8")
    assert "Training-free w/ &lt;think&gt;" in html  # Table 1's header, escaped


def test_harness_eval_command_writes_the_page_unless_told_not_to(tmp_path, fixed):
    from click.testing import CliRunner

    from harness.cli import build_cli

    model = _html_runs.fake_checkpoint(tmp_path / "ckpt")
    base = [
        "eval",
        "--tasks",
        "banner",
        "--templates",
        "think",
        "--limit",
        "3",
        "--engine",
        "fixed",
        "--model",
        model,
        "--source",
        "banner=synthetic",
        "--no-progress",
        "--no-plot",
    ]
    result = CliRunner().invoke(build_cli(), [*base, "-o", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and len(page_data(tmp_path / "d" / "report.html")["samples"]) == 3
    result = CliRunner().invoke(build_cli(), [*base, "--no-html", "-o", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert "report.html" not in result.output and not (tmp_path / "e" / "report.html").exists()
