"""Hostile cases, class "Security grep": no model or dataset text reaches code execution, and
``trust_remote_code`` never defaults on.

The grep is an AST scan of everything the harness ships (``harness/``, ``plugins/``, ``tasks/``):
each rule is one case, and a case fails naming the file and line. Behavioural cases then feed code
through the real paths (manifests, prompts rendered by a real chat template, completions, configs,
reward specs) and check that it stays text.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from _corpus_a import assert_one_line_error, cli, write_png
from _corpus_b import ROOT, manifest_of

import harness

HOSTILE_CLASS = "Security grep"  # the security grep (for the docs table)
error, result = pytest.mark.hostile("error"), pytest.mark.hostile("result")

SHIPPED = ("harness", "plugins", "tasks")


def shipped_modules() -> list[tuple[Path, ast.Module]]:
    files = sorted(p for d in SHIPPED for p in (ROOT / d).rglob("*.py"))
    assert len(files) > 40, files  # the scan sees the whole tree
    return [(f, ast.parse(f.read_text(encoding="utf-8"), filename=str(f))) for f in files]


MODULES = shipped_modules()


def where(file: Path, node: ast.AST) -> str:
    return f"{file.relative_to(ROOT)}:{node.lineno}"


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def calls():
    for file, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                yield file, node, dotted(node.func)


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


# -- the grep ---------------------------------------------------------------------------


@error
def test_no_eval_exec_or_compile_anywhere():
    found = [
        f"{where(f, c)} {name}()"
        for f, c, name in calls()
        if name in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec")
    ]
    assert found == []


@error
def test_no_unpickling_module_is_imported():
    banned = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
    found = []
    for file, tree in MODULES:
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{where(file, node)} import {n}" for n in names if n.split(".")[0] in banned]
    assert found == []


@error
def test_yaml_is_only_ever_read_safely():
    unsafe = {
        "yaml.load",
        "yaml.load_all",
        "yaml.unsafe_load",
        "yaml.unsafe_load_all",
        "yaml.full_load",
        "yaml.full_load_all",
    }
    found = [f"{where(f, c)} {name}()" for f, c, name in calls() if name in unsafe]
    for file, tree in MODULES:
        found += [
            f"{where(file, n)} {dotted(n)}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and dotted(n) in ("yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader")
        ]
    assert found == []


@error
def test_tensors_and_arrays_are_loaded_without_pickle():
    found = [
        f"{where(f, c)} {name}() without weights_only=True"
        for f, c, name in calls()
        if name.endswith("torch.load") and not is_true(keyword(c, "weights_only"))
    ]
    found += [
        f"{where(f, c)} {name}(allow_pickle=True)"
        for f, c, name in calls()
        if name in ("np.load", "numpy.load") and is_true(keyword(c, "allow_pickle"))
    ]
    assert found == []


@error
def test_no_shell_runs_a_string():
    found = [f"{where(f, c)} {name}()" for f, c, name in calls() if name in ("os.system", "os.popen")]
    found += [f"{where(f, c)} {name}(shell=True)" for f, c, name in calls() if is_true(keyword(c, "shell"))]
    assert found == []


# Every import of a module whose name is not written in the code, and why it is safe.
DYNAMIC_IMPORTS = {
    "harness/__init__.py": "names from the module's own _LAZY table",
    "harness/host/manager.py": "the built-in plugins' module names (DEFAULT_PLUGINS)",
    "harness/cli/__init__.py": "the command modules (COMMAND_MODULES)",
    "harness/models/loading.py": "transformers.models.<model_type>, model_type checked against STOCK_PROCESSORS first",
}


@error
def test_modules_are_imported_by_data_only_where_reviewed():
    found = {
        str(f.relative_to(ROOT))
        for f, c, name in calls()
        if name in ("importlib.import_module", "import_module") and not (c.args and isinstance(c.args[0], ast.Constant))
    }
    assert found == set(DYNAMIC_IMPORTS), "review the new dynamic import and list it in DYNAMIC_IMPORTS"


@error
def test_trust_remote_code_never_defaults_on():
    found = []
    for file, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):  # def f(..., trust_remote_code=True)
                args = node.args
                pos = list(zip(args.args[len(args.args) - len(args.defaults) :], args.defaults))
                for arg, default in pos + list(zip(args.kwonlyargs, args.kw_defaults)):
                    if (
                        arg.arg == "trust_remote_code"
                        and default is not None
                        and not (isinstance(default, ast.Constant) and default.value in (False, None))
                    ):
                        found.append(f"{where(file, node)} default {ast.unparse(default)}")
            elif isinstance(node, ast.AnnAssign) and dotted(node.target) == "trust_remote_code":
                if node.value is None or ast.unparse(node.value) not in ("False", "None"):
                    found.append(f"{where(file, node)} field default {ast.unparse(node.value) if node.value else '-'}")
            elif isinstance(node, ast.Call):
                if is_true(keyword(node, "trust_remote_code")):  # f(..., trust_remote_code=True)
                    found.append(f"{where(file, node)} passes True")
                name = dotted(node.func)
                if (name.endswith(".get") or name == "getattr") and any(
                    isinstance(a, ast.Constant) and a.value == "trust_remote_code" for a in node.args
                ):
                    fallback = node.args[-1] if len(node.args) >= (3 if name == "getattr" else 2) else None
                    safe = isinstance(fallback, ast.Constant) and fallback.value in (False, None)
                    if fallback is not None and not safe:
                        found.append(f"{where(file, node)} falls back to {ast.unparse(fallback)}")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "trust_remote_code" and is_true(value):
                        found.append(f"{where(file, node)} dict sets True")
    assert found == []


@result
def test_trust_remote_code_is_off_in_every_config_and_flag():
    from harness.cli import build_cli

    assert harness.EvalConfig().trust_remote_code is False
    commands = build_cli().commands
    flags = [p for name in ("eval", "run", "study") for p in commands[name].params if p.name == "trust_remote_code"]
    assert flags and all(p.default in (None, False) for p in flags)
    assert "trust_remote_code" not in harness.RunConfig.model_fields or (
        harness.RunConfig.model_fields["trust_remote_code"].default is False
    )


# -- behaviour: code in the data stays text --------------------------------------------

PAYLOAD = "__import__('os').system('touch {marker}')"


@error
def test_a_label_holding_code_is_a_row_error_and_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    write_png(tmp_path / "data" / "a.png", color=(1, 2, 3))
    manifest = tmp_path / "data" / "test.jsonl"
    manifest.write_text(json.dumps({"image": "a.png", "label": PAYLOAD.format(marker=marker)}) + "\n")
    with pytest.raises(harness.DataError, match=r"test.jsonl, row 1: label .* is not 'positive' or 'negative'"):
        list(harness.get_task("banner").samples("test", source=str(manifest)))
    assert not marker.exists()


@result
@pytest.mark.parametrize("task", ["banner", "fgvc", "sat"])
def test_a_completion_holding_code_is_scored_as_text(tmp_path, task):
    marker = tmp_path / "PWNED"
    code = PAYLOAD.format(marker=marker)
    sample = next(iter(harness.get_task(task).samples("test", limit=1)))
    for completion in (f"<answer>{code}</answer>", f"<answer>{{{{ {code} }}}}</answer>", code):
        assert harness.get_task(task).is_correct(completion, sample) is False
        accuracy = harness.reward_from_spec("accuracy:1", template="nothink")
        assert accuracy(
            [completion], task=[task], answer=[sample.answer], choices=[sample.choices], id=[sample.id], meta=["{}"]
        ) == [0.0]
    assert not marker.exists()


@result
def test_question_text_holding_template_code_reaches_the_model_literally(tiny_model_dir, tmp_path):
    from harness.models.inputs import render_prompt
    from harness.models.loading import load_processor

    hostile = "{{ 7 * 7 }} {% for x in range(3) %}x{% endfor %} " + PAYLOAD.format(marker=tmp_path / "PWNED")
    task = harness.get_task("sat")
    sample = next(iter(task.samples("test", limit=1)))
    sample = harness.Sample(sample.id, sample.images, hostile, ["{{ 6 * 7 }}", "b"], "b", {})
    text = render_prompt(load_processor(tiny_model_dir), task.build_prompt(sample, harness.get_template("nothink")))
    assert "{{ 7 * 7 }} {% for x in range(3) %}x{% endfor %}" in text and "A. {{ 6 * 7 }}" in text
    visible = text.replace(str(tmp_path), "<tmp>")  # the temp path may hold any digits (pytest-449)
    assert "49" not in visible and "42" not in visible and "xxx" not in visible
    assert not (tmp_path / "PWNED").exists()


@error
@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    ],
)
def test_a_config_with_python_tags_is_refused_and_runs_nothing(tmp_path, tag):
    marker = tmp_path / "PWNED"
    config = tmp_path / "eval.yaml"
    config.write_text(f"tasks: [banner]\nseed: {tag.format(marker=marker)}\n")
    assert_one_line_error(cli(["eval", "--config", config]), 2, str(config))
    assert not marker.exists()


@error
def test_a_reward_spec_holding_code_is_an_unknown_reward(tmp_path):
    marker = tmp_path / "PWNED"
    with pytest.raises(harness.HarnessError):
        harness.reward_from_spec(f"{PAYLOAD.format(marker=marker)}:1")
    with pytest.raises(harness.HarnessError):
        harness.reward_from_spec("accuracy:__import__('os').getpid()")
    assert not marker.exists()


@error
def test_a_manifest_path_holding_shell_syntax_is_just_a_missing_file(tmp_path):
    marker = tmp_path / "PWNED"
    root = tmp_path / "data"
    manifest_of(root, [f"$(touch {marker}).png"])
    with pytest.raises(harness.DataError, match=r"row 1: image file .* does not exist"):
        list(harness.get_task("banner").samples("test", source=str(root / "test.jsonl")))
    assert not marker.exists()
