"""Everything that decides which prompts a run sees is the same in every process.

A resumed run, a ``--shard I/N`` job and a Ray worker each compute the samples again in their own
process, where Python's string hashing is seeded differently (``PYTHONHASHSEED``). If any of the
samples, their order, the listed candidates (fgvc ``candidates=N``), the choice shuffles and rotations
(sat ``--circular``), the shard membership, the prompts, the images or the generic pre-training
questions depended on set or dict-of-hash order, a resumed or sharded run would score other prompts than
the run it continues. Each is computed here in subprocesses with different hash seeds and compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import hashlib, io, json, sys

    from harness.config.eval import EvalConfig
    from harness.evaluation.plan import UnitPrompts, plan_units


    def image_digest(image):
        if image is None:
            return None
        data = getattr(image, "source", None)
        if isinstance(data, (bytes, bytearray)):
            return hashlib.sha256(data).hexdigest()[:16]
        if hasattr(image, "open") and not hasattr(image, "save"):  # an ImageRef holding a file path
            image = image.open()
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return hashlib.sha256(buf.getvalue()).hexdigest()[:16]


    out = {}
    for name, fields in json.loads(sys.argv[1]).items():
        units = plan_units(EvalConfig(**fields))
        described = []
        for unit in units:
            prompts = UnitPrompts(unit, unit.items)
            described.append({
                "unit": unit.key,
                "fingerprint": unit.data.get("fingerprint"),
                "items": [[it.index, it.rotation, it.group, it.sample.id, it.digest, it.sample.question,
                           it.sample.answer, it.sample.choices, it.sample.meta.get("candidates"),
                           [image_digest(im) for im in (it.sample.images or [])]]
                          for it in unit.items],
                "prompts": [prompts.text(i) for i in range(len(prompts))],
            })
        out[name] = described

    from harness.study.generic_data import generic_questions

    out["generic"] = [[q.kind, q.question, q.hint, q.answer, q.reason, q.meta, image_digest(q.image)]
                      for q in generic_questions(30, seed=5)]
    print(json.dumps(out, sort_keys=True, default=str))
    """
)

BASE = {"engine": "hf", "templates": ["think", "nothink"], "seed": 3, "split": "test"}
CONFIGS = {
    # fgvc lists 4 candidates among the synthetic variants; banner and sat plain
    "listed": BASE | {"tasks": ["fgvc", "banner", "sat"], "limit": 12, "task_options": {"fgvc": {"candidates": 4}}},
    # sat's own circular rotations, the fallback rotations of fgvc's listed candidates, one shard of three
    "circular_shard": BASE
    | {
        "tasks": ["sat", "fgvc"],
        "limit": 9,
        "circular": True,
        "shard": "2/3",
        "task_options": {"fgvc": {"candidates": 3}},
    },
    "train": BASE
    | {"tasks": ["fgvc", "sat"], "limit": 6, "split": "train", "seed": 11, "task_options": {"fgvc": {"candidates": 5}}},
}


def _probe(hash_seed: str) -> dict:
    env = os.environ | {"PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(CONFIGS)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def probes() -> list[dict]:
    return [_probe(seed) for seed in ("0", "1", "4242")]


def test_the_probe_covers_what_it_claims(probes):
    first = probes[0]
    listed = {u["unit"]: u for u in first["listed"]}
    fgvc = listed["fgvc.think"]["items"]
    assert len(fgvc) == 12 and all(len(item[8]) == 4 and item[6] in item[8] for item in fgvc)
    assert len({tuple(item[8]) for item in fgvc}) > 1  # the candidate lists differ by sample
    circular = {u["unit"]: u for u in first["circular_shard"]}
    sat = circular["sat.think"]["items"]
    assert {item[0] % 3 for item in sat} == {1}  # shard 2/3: positions 1, 4, 7
    assert max(item[1] for item in sat) >= 1  # rotations present
    assert all(item[1] in range(3) for item in circular["fgvc.think"]["items"])
    assert listed["sat.think"]["prompts"] != listed["sat.nothink"]["prompts"]
    assert all(item[9] for item in fgvc)  # images were rendered and digested
    assert len(first["generic"]) == 30


@pytest.mark.parametrize("config", [*CONFIGS, "generic"])
def test_samples_candidates_rotations_shards_and_prompts_ignore_the_hash_seed(probes, config):
    first, *others = probes
    for other in others:
        assert other[config] == first[config], f"{config} differs between PYTHONHASHSEED values"
