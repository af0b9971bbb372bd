"""Hostile cases, class "resource exhaustion": memory, time and numbers stay bounded, or the run stops named.

Pixel bombs under PIL's own limit, absurd --limit values, synthetic generation asked for millions,
reward specs of thousands of components, and rewards whose weighted total overflows.
"""

from __future__ import annotations

import json
import math
import sys
import time

import pytest

import harness
import harness.data as hdata
from harness.config.eval import EvalConfig
from harness.evaluation import run_eval
from harness.testing import registered_plugin

HOSTILE_CLASS = "Resource exhaustion"  # issue 16's class of these cases (for the docs table)
from _corpus_a import (  # noqa: E402
    Registers,
    ScriptEngine,
    assert_one_line_error,
    bomb_png,
    cli,
    fake_checkpoint,
    png_bytes,
    write_png,
)


@pytest.fixture
def script(fresh_host):
    engine = ScriptEngine(lambda prompt: "<answer>positive</answer>")
    with registered_plugin(Registers(engines=[engine]), name="hostile-script", host=fresh_host):
        yield engine


# -- pixels ---------------------------------------------------------------------------------


def test_a_13000_square_png_of_a_few_kb_is_refused_from_its_header(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(13000, 13000, valid=False))  # 169 MP; its pixel data is not even valid
    assert bomb.stat().st_size < 1000
    with pytest.raises(
        harness.DataError,
        match=r"manifest\.jsonl, row 3: image .*bomb\.png is 13000x13000 = "
        r"169 megapixels, over the cap of 40 MP; refusing to decode",
    ):
        hdata.load_image(bomb, "manifest.jsonl", 3)  # a decode attempt would have said "cannot decode"


def test_a_valid_pixel_bomb_in_a_dataset_stops_eval_before_the_model_naming_the_row(script, tmp_path):
    data = tmp_path / "banners"
    write_png(data / "positive" / "ok.png")
    (data / "negative").mkdir()
    (data / "negative" / "huge.png").write_bytes(bomb_png(13000, 13000))  # ~20 KB, 500 MB decoded as RGB
    assert (data / "negative" / "huge.png").stat().st_size < 100_000
    result = cli(
        [
            "eval",
            "--tasks",
            "banner",
            "--templates",
            "nothink",
            "--engine",
            "script",
            "--model",
            fake_checkpoint(tmp_path / "model"),
            "--source",
            f"banner={data}",
            "-o",
            tmp_path / "out",
            "--no-progress",
        ]
    )
    assert_one_line_error(result, 1, "negative/huge.png", "13000x13000", "over the cap of 40 MP")
    assert script.generated == 0


def test_the_cap_is_configurable_and_downscaling_is_an_explicit_choice(tmp_path):
    picture = write_png(tmp_path / "wide.png", (400, 100))
    with hdata.use_image_limits(max_pixels=10_000):
        with pytest.raises(harness.DataError, match="400x100 = 0.04 megapixels, over the cap of 0.01 MP"):
            hdata.load_image(picture, "f", 1)
    with hdata.use_image_limits(max_pixels=10_000, oversize="downscale"):
        image = hdata.load_image(picture, "f", 1)
    w, h = image.size
    assert w * h <= 10_000 and abs(w / h - 4.0) < 0.1 and image.mode == "RGB"
    assert hdata.load_image(picture, "f", 1).size == (400, 100)  # outside the block: the default cap again


def test_the_cap_comes_from_the_eval_config_and_the_environment(script, tmp_path, monkeypatch):
    data = tmp_path / "banners"
    write_png(data / "positive" / "a.png", (300, 200))
    write_png(data / "negative" / "b.png", (30, 20))
    base = dict(
        tasks=["banner"],
        templates=["nothink"],
        engine="script",
        model=str(fake_checkpoint(tmp_path / "model")),
        bootstrap=0,
        sources={"banner": str(data)},
    )
    with pytest.raises(harness.DataError, match="positive/a.png is 300x200"):
        run_eval(
            EvalConfig(**base, max_image_pixels=10_000, output=str(tmp_path / "o1")),
            progress=False,
            echo=lambda s: None,
        )
    results = run_eval(
        EvalConfig(**base, max_image_pixels=10_000, oversize_images="downscale", output=str(tmp_path / "o2")),
        progress=False,
        echo=lambda s: None,
    )
    assert results["results"]["banner"]["nothink"]["n"] == 2
    assert results["config"]["oversize_images"] == "downscale"  # part of the run's identity
    monkeypatch.setenv("HARNESS_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(
        harness.DataError, match="positive/a.png is 300x200 = 0.06 megapixels, over the cap of 0.001 MP"
    ):
        list(harness.get_task("banner").samples("test", source=str(data)))
    monkeypatch.setenv("HARNESS_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(harness.ConfigError, match="HARNESS_MAX_IMAGE_PIXELS='lots'"):
        hdata.load_image(data / "negative" / "b.png", "f", 1)


def test_embedded_image_bytes_are_capped_too(tmp_path):
    with hdata.use_image_limits(max_pixels=100):
        with pytest.raises(harness.DataError, match=r"rows\.parquet, row 0: image embedded image is 32x24"):
            hdata.load_image({"bytes": png_bytes((32, 24)), "path": None}, "rows.parquet", 0)


def test_image_limits_refuse_nonsense():
    with pytest.raises(harness.ConfigError, match="max_image_pixels must be a whole number >= 1"):
        hdata.ImageLimits(0)
    with pytest.raises(harness.ConfigError, match="oversize_images must be 'refuse' or 'downscale'"):
        hdata.ImageLimits(100, "shrink")


# -- how many samples -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["1000000000000", "-5", "9" * 30])
def test_an_absurd_limit_is_a_config_error_before_anything_runs(tmp_path, limit):
    result = cli(["eval", "--tasks", "banner", "--limit", limit, "-o", tmp_path / "out"])
    assert_one_line_error(result, 2, "limit")
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--limit",
            limit,
            "--model",
            fake_checkpoint(tmp_path / "model"),
            "-o",
            tmp_path / "r",
            "--check",
        ]
    )
    assert_one_line_error(result, 2, "limit")


@pytest.mark.parametrize("task", ["banner", "fgvc", "sat"])
def test_synthetic_generation_is_bounded_and_refused_at_once(task):
    started = time.perf_counter()
    with pytest.raises(
        harness.ConfigError, match=rf"Task '{task}': limit 1,000,000 .* more than {hdata.MAX_SYNTHETIC:,}"
    ):
        harness.get_task(task).samples("test", limit=1_000_000)
    assert time.perf_counter() - started < 5  # refused, not generated (generating a million takes hours)


def test_synthetic_samples_stream_one_at_a_time(monkeypatch):
    import harness.tasks.banner as banner

    drawn = []
    real = banner.render_banner
    monkeypatch.setattr(banner, "render_banner", lambda slogan, rng: drawn.append(slogan) or real(slogan, rng))
    samples = harness.get_task("banner").samples("train", limit=hdata.MAX_SYNTHETIC)
    first = next(iter(samples))
    assert first.id.endswith("00000") and len(drawn) == 1  # nothing drawn ahead of the consumer


# -- reward specs ------------------------------------------------------------------------------


def _spec(n: int) -> str:
    return ",".join(f"r{i}(a=1):1" for i in range(n))


def test_the_reward_spec_parser_is_linear_in_components(monkeypatch):
    import harness.rewards.spec as reward_spec

    monkeypatch.setattr(reward_spec, "MAX_SPEC_CHARS", 10**7)
    monkeypatch.setattr(reward_spec, "MAX_COMPONENTS", 10**6)

    def lines_run(n: int) -> int:
        """Lines of harness/rewards/spec.py executed to parse an n-component spec (an operation count:
        the same on any machine, unlike a timing)."""
        count = 0

        def local(frame, event, arg):
            nonlocal count
            count += event == "line"
            return local

        def tracer(frame, event, arg):
            return local if frame.f_code.co_filename == reward_spec.__file__ else None

        spec, old = _spec(n), sys.gettrace()
        sys.settrace(tracer)
        try:
            assert len(reward_spec.parse_reward_spec(spec)) == n
        finally:
            sys.settrace(old)
        return count

    ratio = lines_run(5_000) / lines_run(500)
    # Linear: about 10 (names grow a digit). The duplicate-name scan over the items so far made
    # it about 70 here, and x10 more for every x10 components.
    assert 9 < ratio < 13, ratio


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (_spec(300), "more than 256 components"),
        ("accuracy:1," * 5000 + "format:1", "is 55008 characters long; at most 20000"),
    ],
)
def test_a_monster_spec_is_refused_with_a_short_message(spec, problem, tmp_path):
    with pytest.raises(harness.ConfigError, match=problem) as info:
        harness.reward_from_spec(spec)
    assert len(str(info.value)) < 600
    result = cli(["eval", "--tasks", "banner", "--rewards", spec, "-o", tmp_path / "out"])
    assert len(assert_one_line_error(result, 2, problem)) < 800


# -- numbers that overflow ---------------------------------------------------------------------


def test_two_large_finite_weights_are_refused_when_the_spec_is_read(tmp_path):
    result = cli(["eval", "--tasks", "banner", "--rewards", "accuracy:1e308,format:1e308", "-o", tmp_path / "out"])
    assert_one_line_error(result, 2, "the weight 1e+308 of 'accuracy' is beyond", "overflow")
    assert not (tmp_path / "out").exists()
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--reward",
            "accuracy:2e38,format:2e38",
            "--model",
            fake_checkpoint(tmp_path / "model"),
            "-o",
            tmp_path / "run",
            "--check",
        ]
    )
    assert_one_line_error(result, 2, "weight 2e+38 of 'accuracy'")


class Huge:
    """A reward plugin returning a finite value whose weighted sum overflows: 1e300 per completion."""

    name = "huge"
    description = "returns 1e300"

    def __init__(self):
        self.__name__ = self.name

    def __call__(self, completions, **columns):
        return [1e300] * len(completions)


def test_a_reward_whose_weighted_total_overflows_stops_eval_naming_it(script, tmp_path):
    with registered_plugin(Registers(rewards=[Huge]), name="hostile-huge"):
        data = tmp_path / "banners"
        write_png(data / "positive" / "a.png")
        config = EvalConfig(
            tasks=["banner"],
            templates=["nothink"],
            engine="script",
            model=str(fake_checkpoint(tmp_path / "model")),
            sources={"banner": str(data)},
            rewards="accuracy:1,huge:1",
            output=str(tmp_path / "out"),
        )
        with pytest.raises(
            harness.DataError,
            match=r"task 'banner', sample 'positive/a.png': reward 'huge' "
            r"returned 1e\+300 .* could overflow",
        ):
            run_eval(config, progress=False, echo=lambda s: None)
    assert not (tmp_path / "out" / "results.json").exists()


def test_training_refuses_the_same_overflow_naming_the_component_and_completion():
    from harness.plugins.backends.trl.reward_functions import TrlReward

    reward = TrlReward("huge", Huge(), weight=1.0, components=2)
    with pytest.raises(harness.DataError, match=r"reward 'huge' returned 1e\+300 .* could overflow.*id='s1'"):
        reward(["<answer>x</answer>"], id=["s1"], meta=["{}"])


def test_results_json_never_holds_infinity_or_nan(script, tmp_path):
    data = tmp_path / "banners"
    write_png(data / "positive" / "a.png")
    config = EvalConfig(
        tasks=["banner"],
        templates=["nothink"],
        engine="script",
        model=str(fake_checkpoint(tmp_path / "model")),
        sources={"banner": str(data)},
        rewards="accuracy:1e30,format:-1e30",
        output=str(tmp_path / "out"),
    )
    run_eval(config, progress=False, echo=lambda s: None)
    text = (tmp_path / "out" / "results.json").read_text()
    results = json.loads(text, parse_constant=lambda c: pytest.fail(f"results.json holds {c}"))
    total = results["results"]["banner"]["nothink"]["reward_total_mean"]
    assert math.isfinite(total) and total == 0.0  # 1e30 (right) - 1e30 (well formed)
