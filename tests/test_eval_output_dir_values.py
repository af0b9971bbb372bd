"""`harness eval`'s model resolution, output folder checks and summary, by value: what each refusal names (its structure: field,
where, fix; and the facts in its text), the config.json that counts as an eval's, and a summary that reads the
logs without touching them, with the run's bootstrap seed.

Written for the survivors of a mutation run of `evaluation/runner.py` (docs/testing.md).
"""

from __future__ import annotations

import json

import _eval_doubles  # noqa: E402
import pytest

from harness.errors import ConfigError, DataError
from harness.evaluation.runner import EVAL_CONFIG_KEYS, NEW_OUTPUT, check_output_dir
from harness.runs.fingerprint import checkpoint_changes, checkpoint_fingerprint
from harness.runs.rundir import identity_differences

config, run = _eval_doubles.toy_config, _eval_doubles.run_quietly


def log(tmp_path, out="out", template="think"):
    return tmp_path / out / "samples" / f"toy.{template}.jsonl"


def test_a_damaged_config_json_is_named_as_the_eval_config(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{not json")
    with pytest.raises(DataError) as caught:
        check_output_dir(config(tmp_path), out)
    assert "harness eval config" in str(caught.value) and str(out / "config.json") in str(caught.value)


def test_a_config_json_with_exactly_the_eval_keys_is_an_eval_config(doubles, tmp_path):
    """The identity keys are the minimum: a config.json holding exactly them (an older eval's) is resumed
    and brought up to date, not refused as someone else's."""
    cfg = config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    identity = cfg.identity()
    (out / "config.json").write_text(json.dumps({k: identity[k] for k in EVAL_CONFIG_KEYS}))
    check_output_dir(cfg, out)
    assert json.loads((out / "config.json").read_text()) == identity


@pytest.mark.parametrize("content", [{"task": "toy", "method": "grpo"}, [1, 2], {"tasks": ["toy"]}])
def test_a_foreign_config_json_is_refused_with_field_where_and_fix(tmp_path, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(content))
    with pytest.raises(ConfigError) as caught:
        check_output_dir(config(tmp_path), out)
    err = caught.value
    assert (err.field, err.where, err.fix) == ("output", str(out / "config.json"), NEW_OUTPUT)
    assert json.loads((out / "config.json").read_text()) == content  # kept as it was


def test_a_changed_configuration_names_every_differing_field(doubles, tmp_path):
    first = config(tmp_path, templates=["think"])
    run(first)
    changed = config(tmp_path, templates=["think"], split="train", max_new_tokens=17)
    with pytest.raises(ConfigError) as caught:
        run(changed)
    err = caught.value
    diffs = identity_differences(first.identity(), changed.identity())
    assert len(diffs) == 2
    assert f"Differing fields: {'; '.join(diffs)}." in str(err)
    assert (err.field, err.where, err.fix) == ("output", str(tmp_path / "out" / "config.json"), NEW_OUTPUT)


@pytest.mark.parametrize("model", [None, "given"])
def test_changed_checkpoint_content_names_the_model_and_every_changed_file(tmp_path, model):
    from pathlib import Path

    ckpt = Path(_eval_doubles.fake_checkpoint(tmp_path / "model"))
    before = checkpoint_fingerprint(ckpt)
    (ckpt / "model.safetensors").write_bytes(b"new weights")
    (ckpt / "model-extra.safetensors").write_bytes(b"more weights")
    after = checkpoint_fingerprint(ckpt)
    cfg = config(tmp_path)
    if model is None:
        cfg = cfg.model_copy(update={"model": None})
    out = tmp_path / "out"
    check_output_dir(cfg, out, before)
    log(tmp_path).parent.mkdir(parents=True)
    log(tmp_path).write_text(json.dumps(_eval_doubles.record("test-0", 0)) + "\n")
    with pytest.raises(ConfigError) as caught:
        check_output_dir(cfg, out, after)
    err, changes = caught.value, checkpoint_changes(before, after)
    assert len(changes) >= 2
    assert "; ".join(changes) in str(err)
    assert f"other model content at {cfg.model or 'the default model'}:" in str(err)
    assert (err.field, err.where, err.fix) == ("model", str(out / "samples"), NEW_OUTPUT)


def test_a_log_of_another_sample_set_names_its_first_three_stray_ids(doubles, tmp_path):
    cfg = config(tmp_path, templates=["think"])
    check_output_dir(cfg, tmp_path / "out")
    path = log(tmp_path)
    path.parent.mkdir(parents=True)
    stray = [f"test-{i}" for i in (90, 91, 92, 93, 94)]
    path.write_text("".join(json.dumps(_eval_doubles.record(s, int(s[5:]))) + "\n" for s in stray))
    with pytest.raises(DataError) as caught:
        run(cfg)
    assert str(stray[:3]) in str(caught.value)  # the first three, sorted; not four, not all


def test_the_summary_reads_a_torn_log_without_repairing_it(doubles, tmp_path):
    """summarize_output only reads: a log whose last line is torn (a writer killed mid-line, or one still
    writing) is summarized from its complete lines and left byte for byte."""
    from harness.evaluation.plan import plan_units
    from harness.evaluation.runner import summarize_output

    cfg = config(tmp_path, templates=["think"])
    run(cfg)
    path = log(tmp_path)
    torn = path.read_bytes() + b'{"id": "test-9", "pred'
    path.write_bytes(torn)
    units = plan_units(cfg)
    summary = summarize_output(cfg, units, tmp_path / "out")
    assert summary["toy"]["think"]["n"] == 8
    assert path.read_bytes() == torn


def test_the_summary_bootstraps_with_the_runs_seed(doubles, tmp_path):
    """The accuracy CI is resampled with the eval's --seed (4 here: the toy data is the same at seeds 0 and 4, the resampling is not)."""
    from harness.evaluation.plan import plan_units
    from harness.evaluation.records import read_records
    from harness.evaluation.results import summarize
    from harness.evaluation.runner import summarize_output

    cfg = config(tmp_path, templates=["think"], seed=4, bootstrap=50, limit=12)
    run(cfg)
    units = plan_units(cfg)
    got = summarize_output(cfg, units, tmp_path / "out")["toy"]["think"]
    records = read_records(log(tmp_path))
    weights = {item.name: item.weight for item in cfg.rewards.items}

    def ci(seed: int) -> list[float]:
        return summarize(
            units[0].task, records, expected=12, resamples=50, seed=seed, cap=cfg.max_new_tokens, weights=weights
        )["ci95"]

    assert 0 < got["accuracy"] < 1
    assert ci(4) != ci(0)  # the data lets the seed show
    assert got["ci95"] == ci(4)


# -- the model ---------------------------------------------------------------------------


def test_a_model_file_is_refused_naming_the_folder_to_pass(tmp_path):
    from harness.evaluation.runner import resolve_eval_model

    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    with pytest.raises(ConfigError) as caught:
        resolve_eval_model(config(tmp_path).model_copy(update={"model": str(weights)}))
    err = caught.value
    assert (err.field, err.where, err.fix) == ("model", str(weights), f"--model {weights.parent}")
    assert f"--model {weights} is a file" in str(err)


def test_without_a_model_the_cached_tiny_model_is_used_and_marked_untrained(tmp_path, monkeypatch):
    from harness.evaluation.runner import resolve_eval_model
    from harness.models.tiny import default_tiny_model_dir

    monkeypatch.setenv("RFT_HARNESS_CACHE", str(tmp_path / "cache"))
    path, untrained, record = resolve_eval_model(config(tmp_path).model_copy(update={"model": None}))
    assert (path, untrained, record) == (str(default_tiny_model_dir()), True, None)
    assert path.startswith(str(tmp_path / "cache"))
    # a --model, even that very folder, is a model someone chose: not the untrained default
    assert resolve_eval_model(config(tmp_path).model_copy(update={"model": path}))[1:] == (False, None)


def test_without_a_model_and_without_the_tiny_models_dependencies_the_error_says_pass_model(tmp_path, monkeypatch):
    """An install that cannot build the tiny model (no torch or transformers: `harness.models.tiny` does not
    import) is told to pass --model, not shown an ImportError."""
    import sys

    from harness.evaluation.runner import resolve_eval_model

    monkeypatch.setitem(sys.modules, "harness.models.tiny", None)  # what Python does for a module that failed
    with pytest.raises(ConfigError) as caught:
        resolve_eval_model(config(tmp_path).model_copy(update={"model": None}))
    err = caught.value
    assert (err.field, err.fix) == ("model", "--model PATH")
    assert str(err).startswith("No --model given and the tiny default model is unavailable (")
