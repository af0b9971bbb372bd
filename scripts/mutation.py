#!/usr/bin/env python
"""Scoped mutation testing: do the tests catch small bugs in the rules that decide scores and data integrity?

Slow (minutes per module, hours for all on 2 cores), so it is not part of CI.
Run it after changing a module below or its tests, and record the scores in
docs/testing.md::

    nice -n 10 .venv/bin/python scripts/mutation.py                 # every module in MODULES
    nice -n 10 .venv/bin/python scripts/mutation.py sat reward_spec # some, by name
    .venv/bin/python scripts/mutation.py --list stats              # the modules; stats's chosen tests

The tool is mutmut (pinned below; installed into the running interpreter's
environment on first use). For each module, a working copy of the package is
laid out as installed (``plugins/`` -> ``harness/plugins``, ``tasks/`` ->
``harness/tasks``) under ``build/mutation/<name>/``; mutmut mutates only that
module, runs the module's fast tests once to learn which test reaches which
function, then runs, for each mutant, only the tests that reach the mutated
function, stopping at the first failure. A module's fast tests are not listed by
hand: every test file runs once under coverage with one context per test
(scripts/mutation_contexts.py; cached per test file in
``build/mutation/selection.json``), and the tests that executed a line of the
module, passed, and took at most ``--max-test-seconds`` are chosen. Subprocesses the tests start import
the same mutated copy (``PYTHONPATH``).

Output: a table (killed / survived / timeout / no tests / score per module),
``build/mutation/summary.json``, and ``build/mutation/<name>/survivors.txt``
with the diff of every surviving mutant (``mutmut show NAME`` inside
``build/mutation/<name>/`` shows one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
MUTMUT = "mutmut==3.8.1"
# Where each source folder lives in the installed package (pyproject's package-dir).
PACKAGE_DIRS = {"harness": "harness", "plugins": "harness/plugins", "tasks": "harness/tasks"}


@dataclass(frozen=True)
class Target:
    name: str  # what to type on the command line
    path: str  # the module, relative to the repository root
    # The functions in scope ("func", "Class.method", "Class.*"); empty: every function in the module.
    functions: tuple[str, ...] = ()


# The modules under test. One line each: edit paths here when modules move. Their tests are not listed
# here: each module's are the fast tests that execute it, found by coverage (see select_tests).
MODULES: tuple[Target, ...] = (
    Target("answers", "harness/api/answers.py"),
    Target(
        "sat",
        "tasks/sat.py",
        (
            "resolve_choice",
            "rotations",
            "circular_group",
            "SatTask.extract_answer",
            "SatTask.is_correct",
            "SatTask.metrics",
            "SatTask.samples",
            "SatTask._row_sample",
        ),
    ),
    Target(
        "fgvc", "tasks/fgvc.py", ("_accepted", "FgvcTask.extract_answer", "FgvcTask.is_correct", "FgvcTask.metrics")
    ),
    Target("banner", "tasks/banner.py", ("normalize_label", "BannerTask.extract_answer", "BannerTask.is_correct")),
    # tasks/_common.py's helpers, now in harness.data
    Target("data_labels", "harness/data/labels.py", ("answer_span", "clean", "label_key")),
    Target("data_task", "harness/data/task.py", ("rng_for", "synthetic_count", "check_split")),
    Target("data_readers", "harness/data/readers.py", ("split_files",)),
    Target("reward_format", "plugins/rewards/format.py"),
    Target("reward_length", "plugins/rewards/length_norm.py"),
    Target("reward_spec", "harness/rewards/spec.py"),
    Target("stats", "harness/stats.py"),
    Target("rundir", "harness/runs/rundir.py"),
    Target("eval_plan", "harness/evaluation/plan.py"),
    Target("eval_records", "harness/evaluation/records.py"),
    Target("eval_results", "harness/evaluation/results.py"),
    Target("eval_report", "harness/evaluation/report.py"),
    Target(
        "eval_runner",
        "harness/evaluation/runner.py",
        ("resolve_eval_model", "check_output_dir", "_pending", "summarize_output"),
    ),
    Target("eval_shards", "harness/evaluation/shards.py"),
    Target("study_report", "harness/study/report.py"),
    Target("hacking_indicators", "harness/hacking/indicators.py"),
    Target("hacking_alarm", "harness/hacking/alarm.py"),
    Target("hacking_settings", "harness/hacking/settings.py"),
    Target("registry", "harness/host/registry.py"),
)

# Every module's tests are chosen from the test files under tests/ (see pool_files), less the tests that
# train or generate with a tiny model (marked slow) and any test slower than --max-test-seconds.
POOL_ARGS = ("-m", "not slow")
COVERAGE = "coverage==7.6.12"
SELECTION = WORK / "selection.json"

# Tests that pass in the repository but cannot run inside mutmut's stats run, left out of every selection
# (with the reason). mutmut collects its test-to-function map with MUTANT_UNDER_TEST=stats; a subprocess
# that imports the mutated package from another working directory then looks for mutmut's configuration
# there and exits with an error, so the test fails and mutmut stops before testing any mutant.
NOT_IN_MUTMUT = {
    "tests/test_backend_openrlhf_failfast.py::test_the_preflight_refuses_a_job_directory_that_lost_an_image": (
        "runs the preflight in a subprocess inside the job directory"
    ),
}
# Files outside the package and tests/ that tests read (docs/plugins.md's examples, examples/, the
# benchmark scripts on pytest's pythonpath): copied beside the mutated package.
ALSO_COPY = ("docs", "examples", "benchmarks")

# mutmut's verdicts, grouped for the score: a mutant is caught when a test fails, times out (an endless
# loop) or crashes; it is missed when every test passes, or when no selected test reaches it.
CAUGHT = {"killed", "timeout", "segfault"}
MISSED = {"survived", "no tests", "suspicious"}


def installed_path(path: str) -> str:
    """``plugins/rewards/format.py`` -> ``harness/plugins/rewards/format.py``."""
    top, _, rest = path.partition("/")
    return f"{PACKAGE_DIRS[top]}/{rest}"


def mutant_globs(target: Target) -> list[str]:
    """mutmut's names for the mutants of ``target.functions`` (``[]``: all of the module's)."""
    module = installed_path(target.path)[: -len(".py")].replace("/", ".")
    globs = []
    for function in target.functions:
        owner, _, method = function.rpartition(".")
        globs.append(f"{module}.x\u01c1{owner}\u01c1{method}__mutmut_*" if owner else f"{module}.x_{method}__mutmut_*")
    return globs


def defined_functions(target: Target) -> set[str]:
    """The module's top-level functions and methods, as ``func`` and ``Class.method``."""
    import ast

    tree = ast.parse((ROOT / target.path).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return names


def source_digest(target: Target) -> str:
    import hashlib

    return hashlib.sha256((ROOT / target.path).read_bytes()).hexdigest()[:16]


def ensure_mutmut() -> Path:
    """The mutmut executable beside this interpreter, installed if missing."""
    exe = Path(sys.executable).with_name("mutmut")
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", MUTMUT], check=True)
    return exe


def _digest(paths: list[Path], extra: object = None) -> str:
    import hashlib

    digest = hashlib.sha256(json.dumps(extra).encode())
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def pool_files() -> list[Path]:
    """The test files every module's tests are chosen from (the plugin distributions under tests/plugins
    are installed, not collected)."""
    return [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if "plugins" not in p.relative_to(ROOT).parts[1:2]]


def shared_digest() -> str:
    """What every test's coverage depends on: the package's sources and the tests' helpers and conftests."""
    helpers = [p for p in sorted((ROOT / "tests").rglob("*.py")) if not p.name.startswith("test_")]
    sources = [p for top in PACKAGE_DIRS for p in sorted((ROOT / top).rglob("*.py"))]
    return _digest(sources + helpers, [POOL_ARGS, [t.path for t in MODULES]])


def ensure_coverage() -> None:
    try:
        import coverage  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", COVERAGE], check=True)


def measure_coverage(files: list[Path]) -> dict[str, dict]:
    """Run ``files`` once under coverage, one context per test. Per file: ``{"tests": {module path:
    [node ids that executed a line of it]}, "seconds": {node id: wall time}, "failed": [node ids]}``."""
    ensure_coverage()
    from coverage import CoverageData

    out = WORK / "coverage"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data_file, durations = out / ".coverage", out / "durations.json"
    include = ",".join(str(ROOT / t.path) for t in MODULES)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "scripts"), os.environ.get("PYTHONPATH")])),
        "MUTATION_DURATIONS": str(durations),
    }
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--data-file={data_file}",
        f"--include={include}",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "mutation_contexts",
        "-W",
        "ignore",
        "--hypothesis-seed=0",
        *POOL_ARGS,
        *(str(f.relative_to(ROOT)) for f in files),
    ]
    print(
        f"[mutation] choosing each module's tests: coverage of {len(files)} test files (log: {out / 'pytest.log'})",
        flush=True,
    )
    started = time.monotonic()
    with open(out / "pytest.log", "w", encoding="utf-8") as fh:
        proc = subprocess.run(command, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    # 0: all passed; 1: some failed (left out of every selection); 5: nothing collected (all slow)
    if proc.returncode not in (0, 1, 5):
        raise SystemExit(f"the coverage run failed (exit {proc.returncode}); see {out / 'pytest.log'}")
    timing = json.loads(durations.read_text(encoding="utf-8")) if durations.is_file() else {"seconds": {}, "failed": []}
    data = CoverageData(basename=str(data_file))
    data.read()
    per_file: dict[str, dict] = {str(f.relative_to(ROOT)): {"tests": {}, "seconds": {}, "failed": []} for f in files}

    def file_of(nodeid: str) -> dict:
        return per_file[nodeid.split("::", 1)[0]]

    for nodeid, seconds in timing["seconds"].items():
        file_of(nodeid)["seconds"][nodeid] = round(seconds, 3)
    for nodeid in timing["failed"]:
        file_of(nodeid)["failed"].append(nodeid)
    for target in MODULES:
        contexts = data.contexts_by_lineno(str(ROOT / target.path)) if (ROOT / target.path).is_file() else {}
        for nodeid in sorted({c for cs in contexts.values() for c in cs if c}):
            file_of(nodeid)["tests"].setdefault(target.path, []).append(nodeid)
    print(
        f"[mutation] coverage run: {len(timing['seconds'])} tests, {len(timing['failed'])} failed, "
        f"{round(time.monotonic() - started)} s",
        flush=True,
    )
    return per_file


def select_tests(target: Target, max_seconds: float, refresh: bool = False) -> tuple[list[str], dict]:
    """The fast tests that execute ``target`` (node ids, fastest first), and what was left out and why.

    Chosen by coverage, not by hand: each test file of the pool runs once under coverage with one context
    per test (cached in build/mutation/selection.json per test file; a changed or new test file is run
    again alone; after a change to the package or the test helpers, ``refresh`` runs them all again).
    A test is chosen when it executed
    a line of the module, passed, and took at most ``max_seconds`` (under coverage). mutmut then narrows
    each mutant to the chosen tests that reach its function, so the list has to be complete, not small."""
    shared = shared_digest()
    cache = json.loads(SELECTION.read_text(encoding="utf-8")) if SELECTION.is_file() else {}
    if refresh or not cache:
        cache = {"shared": shared, "files": {}}
    elif cache.get("shared") != shared:
        # A stale selection errs on the safe side: a test that newly reaches the module is missed (its
        # mutants may survive, lowering the score), one that no longer reaches it is skipped by mutmut.
        print(
            "[mutation] the package or the test helpers changed since the tests were chosen; pass "
            "--refresh-selection to run every test file under coverage again",
            flush=True,
        )
    files = pool_files()
    known = cache["files"]
    stale = [f for f in files if known.get(str(f.relative_to(ROOT)), {}).get("digest") != _digest([f])]
    if stale:
        for name, entry in measure_coverage(stale).items():
            known[name] = entry | {"digest": _digest([ROOT / name])}
    cache["files"] = {name: entry for name, entry in known.items() if (ROOT / name) in set(files)}
    SELECTION.parent.mkdir(parents=True, exist_ok=True)
    SELECTION.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    seconds = {k: v for e in cache["files"].values() for k, v in e["seconds"].items()}
    failed = {t for e in cache["files"].values() for t in e["failed"]}
    reached = sorted(t for e in cache["files"].values() for t in e["tests"].get(target.path, []))
    slow = sorted(t for t in reached if seconds.get(t, 0) > max_seconds)
    broken = sorted(t for t in reached if t in failed or t in NOT_IN_MUTMUT)
    chosen = sorted(
        (t for t in reached if t not in broken and seconds.get(t, 0) <= max_seconds),
        key=lambda t: (seconds.get(t, 0), t),
    )
    return chosen, {
        "reached": len(reached),
        "too_slow": slow,
        "failing": broken,
        "seconds": round(sum(seconds.get(t, 0) for t in chosen), 1),
    }


def stage(target: Target, tests: list[str]) -> Path:
    """A fresh working copy: the package laid out as installed, the tests, and mutmut's config."""
    work = WORK / target.name
    shutil.rmtree(work, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source, dest in PACKAGE_DIRS.items():
        shutil.copytree(ROOT / source, work / dest, ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    for name in ALSO_COPY:
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    pytest_section = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("[tool.pytest.ini_options]", 1)[1]
    pytest_section = pytest_section.split("\n[", 1)[0]
    config = {
        "source_paths": ["harness"],
        "only_mutate": [installed_path(target.path)],
        "pytest_add_cli_args_test_selection": tests,
        "also_copy": list(ALSO_COPY),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-W", "ignore", "--hypothesis-seed=0"],
        "use_git_change_detection": False,
        # A mutant is stopped as a timeout (an endless loop) after 5 x (its tests' time + 10 s) of wall time.
        # mutmut's own default, 15 x (time + 1 s), wastes minutes on each loop; anything much tighter flags
        # slow-but-finishing runs on a loaded machine (pytest's start-up is not in the tests' time).
        "timeout_multiplier": 5.0,
        "timeout_constant": 10.0,
        # torch and datasets are not fork-safe once imported: fork mutants from a clean server
        "process_isolation": "forkserver",
    }
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    (work / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]" + pytest_section.rstrip() + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    # The mutated copy goes to work/mutants. It must exist before mutmut starts: Python caches "no such
    # folder" for a PYTHONPATH entry and would then import the installed, unmutated package.
    (work / "mutants").mkdir()
    return work


def verdicts(mutmut: Path, work: Path, env: dict[str, str]) -> dict[str, str]:
    """``{mutant name: verdict}`` from ``mutmut results --all true``."""
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"], cwd=work, env=env, capture_output=True, text=True, check=True
    ).stdout
    result = {}
    for line in out.splitlines():
        name, sep, verdict = line.strip().rpartition(": ")
        if sep and name:
            result[name] = verdict.strip()
    return result


def run_target(
    target: Target,
    mutmut: Path,
    max_children: int,
    tests: list[str],
    chosen: dict,
    previous: dict | None = None,
    resume: bool = False,
) -> dict:
    """Mutate ``target`` and run its tests; with ``previous`` (this module's last result, same source),
    rerun only its survivors and keep the rest of its verdicts (added tests cannot revive a caught mutant).
    With ``resume``, continue an interrupted run in its working copy (same source) instead of starting over.
    ``tests``/``chosen``: the node ids :func:`select_tests` chose and what it left out."""
    work = WORK / target.name
    stamp = work / "source.sha256"
    if not (resume and stamp.is_file() and stamp.read_text() == source_digest(target)):
        work = stage(target, tests)
        stamp.write_text(source_digest(target))
    env = os.environ | {"PYTHONPATH": str(work / "mutants")}
    started = time.monotonic()
    selection = previous["survivors"] if previous else mutant_globs(target)
    log = work / "mutmut.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run(
            [str(mutmut), "run", "--max-children", str(max_children), *selection],
            cwd=work,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"mutmut failed on {target.path} (exit {proc.returncode}); see {log}:\n{tail}")
    found = {name: v for name, v in verdicts(mutmut, work, env).items() if v != "not checked"}
    if previous:
        found = previous["verdicts"] | found
    counts: dict[str, int] = {}
    for verdict in found.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    survivors = sorted(n for n, v in found.items() if v in MISSED)
    with open(work / "survivors.txt", "w", encoding="utf-8") as fh:
        for name in survivors:
            shown = subprocess.run([str(mutmut), "show", name], cwd=work, env=env, capture_output=True, text=True)
            fh.write(shown.stdout + "\n")
    caught = sum(counts.get(v, 0) for v in CAUGHT)
    missed = sum(counts.get(v, 0) for v in MISSED)
    return {
        "module": target.path,
        "source_sha256": source_digest(target),
        "functions": list(target.functions) or ["*"],
        "tests": tests,
        "tests_left_out": chosen,
        "mutants": len(found),
        "counts": counts,
        "caught": caught,
        "missed": missed,
        "score": caught / (caught + missed) if caught + missed else None,
        "survivors": survivors,
        "verdicts": found,
        "seconds": round(time.monotonic() - started) + (previous["seconds"] if previous else 0),
    }


def markdown_table(summary: dict) -> str:
    rows = [
        "| module | functions | mutants | killed | timeout | survived | no tests | score |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.values():
        c = r["counts"]
        score = "-" if r["score"] is None else f"{100 * r['score']:.1f}%"
        functions = ", ".join(f"`{f}`" for f in r.get("functions", ["*"]))
        rows.append(
            f"| `{r['module']}` | {functions} | {r['mutants']} | {c.get('killed', 0)} | {c.get('timeout', 0)} "
            f"| {c.get('survived', 0)} | {c.get('no tests', 0)} | {score} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="module names (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, then exit")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument(
        "--summary",
        type=Path,
        default=WORK / "summary.json",
        help="results file, read and updated (default build/mutation/summary.json)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the results in --summary as a markdown table (for docs/testing.md), then exit",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run of each module where it stopped"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="rerun only each module's survivors from the last run (after adding tests)",
    )
    parser.add_argument(
        "--max-test-seconds",
        type=float,
        default=5.0,
        help="leave out tests slower than this under coverage (default 5)",
    )
    parser.add_argument(
        "--refresh-selection", action="store_true", help="run every test file under coverage again to choose the tests"
    )
    args = parser.parse_args(argv)
    by_name = {t.name: t for t in MODULES}
    if args.list:
        for t in MODULES:
            print(f"{t.name:18} {t.path:36} {' '.join(t.functions) or '*'}")
            if SELECTION.is_file() and args.names and t.name in args.names:
                tests, chosen = select_tests(t, args.max_test_seconds)
                print(
                    f"{'':18} {len(tests)} tests ({chosen['seconds']} s), {len(chosen['too_slow'])} too slow, "
                    f"{len(chosen['failing'])} failing:\n" + "\n".join(f"{'':20}{n}" for n in tests)
                )
        return 0
    if args.markdown:
        print(markdown_table(json.loads(args.summary.read_text(encoding="utf-8"))))
        return 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    missing = [t.path for t in MODULES if not (ROOT / t.path).is_file()]
    if missing:
        parser.error(f"{', '.join(missing)} not found: update MODULES in {Path(__file__).name} to the new layout")
    gone = [f"{t.path}: {f}" for t in MODULES for f in t.functions if f not in defined_functions(t)]
    if gone:
        parser.error(f"no such function(s) {', '.join(gone)}: update MODULES in {Path(__file__).name} (renamed?)")
    mutmut = ensure_mutmut()
    WORK.mkdir(parents=True, exist_ok=True)
    summary_path = args.summary
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for target in [by_name[n] for n in args.names] or list(MODULES):
        print(f"[mutation] {target.path} ...", flush=True)
        previous = summary.get(target.name) if args.survivors else None
        if previous is not None and previous.get("source_sha256") != source_digest(target):
            print(f"[mutation] {target.path} changed since its last run: testing every mutant again", flush=True)
            previous = None
        if previous is not None and not previous["survivors"]:
            continue
        tests, chosen = select_tests(target, args.max_test_seconds, refresh=args.refresh_selection)
        args.refresh_selection = False
        print(
            f"[mutation] {target.path}: {len(tests)} tests execute it ({chosen['seconds']} s; left out: "
            f"{len(chosen['too_slow'])} slower than {args.max_test_seconds} s, {len(chosen['failing'])} failing or unable to run under mutmut)",
            flush=True,
        )
        if not tests:
            print(f"[mutation] {target.path}: no fast test executes it; skipped", flush=True)
            continue
        summary[target.name] = run_target(
            target, mutmut, args.max_children, tests, chosen, previous, resume=args.resume
        )
        summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        r = summary[target.name]
        print(
            f"[mutation] {target.path}: {r['caught']}/{r['mutants']} caught, {r['counts']} ({r['seconds']} s)",
            flush=True,
        )
    print(f"\n{'module':34} {'mutants':>7} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'score':>6}")
    for name, r in summary.items():
        c = r["counts"]
        score = "-" if r["score"] is None else f"{100 * r['score']:.1f}%"
        print(
            f"{r['module']:34} {r['mutants']:>7} {c.get('killed', 0):>6} {c.get('timeout', 0):>7} "
            f"{c.get('survived', 0):>8} {c.get('no tests', 0):>8} {score:>6}"
        )
    print(f"\nsurvivors' diffs: {WORK}/<module>/survivors.txt; summary: {summary_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
