"""The contract: hook specs, the kinds of plugin, the protocols plugins implement, Sample, answer helpers.

:data:`PUBLIC_MODULES` lists every module a plugin may import — built-in or
third-party alike (``tests/test_architecture.py`` holds ``tasks/``, ``plugins/``
and ``examples/`` to it, and ``docs/plugins.md`` documents each). Everything
else (``harness.host``, ``harness.cli``, ``harness.evaluation``,
``harness.study``, ``harness.training``, names starting with ``_``) is the
harness's own machinery and may change without notice.
"""

PUBLIC_MODULES: dict[str, str] = {
    "harness": "hookimpl, get_*/list_*, Sample, the protocols, errors, answer helpers, RunConfig/EvalConfig",
    "harness.errors": "HarnessError and its kinds (ConfigError, DataError, PluginError...)",
    "harness.api.answers": "reading <think>/<answer> spans of a completion",
    "harness.api.protocols": "Task, Template, Reward, Backend, Engine; OPTIONAL_MEMBERS",
    "harness.api.sample": "Sample",
    "harness.data": "ImageTask, HubDataset, RowGuard, confined paths, checked images, limits",
    "harness.data.labels": "answer spans, label keys, whole-word label matching",
    "harness.data.readers": "JSONL, CSV, parquet and datasets-folder row readers",
    "harness.data.drawing": "drawing primitives shared by synthetic twins and the study (the vote arrow)",
    "harness.data.sources": "data source specs (synthetic, hf:ORG/NAME, a path) and HubDataset",
    "harness.config.base": "StrictModel (extra='forbid' settings models) and config-building helpers",
    "harness.config.run_checks": "the checks every training backend shares (task, split, options, template, reward)",
    "harness.models.loading": "loading a local checkpoint and its processor, device checks",
    "harness.models.inputs": "turning prompts into processor inputs (images decoded per batch)",
    "harness.rewards.base": "shared reward plumbing (completion text, checked numbers)",
    "harness.rewards.spec": "parsing NAME(k=v) reward specs",
    "harness.runs.rundir": "run folders: RunSummary, atomic writes, locks",
    "harness.runs.fingerprint": "checkpoint and sample fingerprints (resume checks)",
    "harness.runs.versions": "library versions recorded with a run",
    "harness.hacking": "the reward-hacking monitor backends feed",
    "harness.plots": "training and results plots",
    "harness.testing": "fresh_host, registered_plugin and shared test doubles",
}
