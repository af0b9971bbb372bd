"""The synthetic twins are data: pinned, so a change to them is a decision, not an accident.

Every number the study and the README report comes from these samples. A
refactor that reseeds a generator, drops the seed or changes a default size
changes all of them silently; these pins make it fail loudly instead. If a
change to a twin is intended, update the pins and the published numbers.
Also here: the exact sample metadata the evaluation reads (``synthetic``,
the rotation fields of circular samples).
"""

from __future__ import annotations

import pytest

import harness

QUESTION = {
    "banner": "Does the content of this banner convey a positive or a negative message?",
    "fgvc": "What is the exact variant of the aircraft in this image?",
}

# (task, split, seed) -> the first samples' (id, question, choices, answer, meta)
PINS = {
    ("banner", "test", 0): [
        (
            "banner-test-0-00000",
            QUESTION["banner"],
            None,
            "positive",
            {"slogan": "WE LOVE OUR CITY", "synthetic": True},
        ),
        ("banner-test-0-00001", QUESTION["banner"], None, "positive", {"slogan": "THANK YOU", "synthetic": True}),
        ("banner-test-0-00002", QUESTION["banner"], None, "negative", {"slogan": "GET LOST", "synthetic": True}),
    ],
    ("banner", "test", 1): [
        ("banner-test-1-00000", QUESTION["banner"], None, "negative", {"slogan": "SHAME ON YOU", "synthetic": True}),
    ],
    ("banner", "train", 0): [
        (
            "banner-train-0-00000",
            QUESTION["banner"],
            None,
            "negative",
            {"slogan": "YOU ARE NOT WELCOME", "synthetic": True},
        ),
    ],
    ("fgvc", "test", 0): [
        (
            "fgvc-test-0-00000",
            QUESTION["fgvc"],
            None,
            "N7-B",
            {"manufacturer": "Nordavia", "family": "N7", "synthetic": True},
        ),
        (
            "fgvc-test-0-00001",
            QUESTION["fgvc"],
            None,
            "C2-20",
            {"manufacturer": "Corvane", "family": "C2", "synthetic": True},
        ),
        (
            "fgvc-test-0-00002",
            QUESTION["fgvc"],
            None,
            "N7-C",
            {"manufacturer": "Nordavia", "family": "N7", "synthetic": True},
        ),
    ],
    ("fgvc", "test", 1): [
        (
            "fgvc-test-1-00000",
            QUESTION["fgvc"],
            None,
            "S3-200",
            {"manufacturer": "Aerodyne", "family": "S3", "synthetic": True},
        ),
    ],
    ("sat", "test", 0): [
        (
            "sat-test-0-00000",
            "Is the purple circle above or below the purple triangle?",
            ["below", "above"],
            "below",
            {"question_type": "relative_position", "synthetic": True},
        ),
        (
            "sat-test-0-00001",
            "How many triangles are in the image?",
            ["6", "3", "0", "5"],
            "5",
            {"question_type": "counting", "synthetic": True},
        ),
        (
            "sat-test-0-00002",
            "The first image was taken before the camera moved and the second image after. How did the camera move?",
            [
                "The camera moved backward.",
                "The camera moved forward.",
                "The camera moved right.",
                "The camera moved left.",
            ],
            "The camera moved left.",
            {"question_type": "ego_movement", "synthetic": True},
        ),
    ],
    ("sat", "test", 1): [
        (
            "sat-test-1-00000",
            None,
            ["above", "below"],
            "below",
            {"question_type": "relative_position", "synthetic": True},
        ),
    ],
    ("sat", "train", 0): [
        (
            "sat-train-0-00000",
            None,
            ["above", "below"],
            "above",
            {"question_type": "relative_position", "synthetic": True},
        ),
    ],
}


@pytest.mark.parametrize("key", sorted(PINS), ids=lambda k: "-".join(map(str, k)))
def test_synthetic_samples_are_pinned(key):
    task, split, seed = key
    pins = PINS[key]
    got = list(harness.get_task(task).samples(split, limit=len(pins), seed=seed))
    for sample, (sid, question, choices, answer, meta) in zip(got, pins, strict=True):
        assert (sample.id, sample.choices, sample.answer, sample.meta) == (sid, choices, answer, meta)
        if question is not None:
            assert sample.question == question
        assert isinstance(sample.question, str) and sample.question.strip()
        assert len(sample.images) == (2 if meta.get("question_type") == "ego_movement" else 1)


@pytest.mark.parametrize("task, split, size", [("banner", "test", 200), ("sat", "val", 240)])
def test_default_synthetic_sizes(task, split, size):
    assert sum(1 for _ in harness.get_task(task).samples(split)) == size


@pytest.mark.parametrize("task", ["banner", "fgvc", "sat"])
def test_the_default_seed_is_0_and_unknown_options_are_refused(task):
    t = harness.get_task(task)
    default = [(s.id, s.answer, s.choices) for s in t.samples("test", limit=2)]
    assert default == [(s.id, s.answer, s.choices) for s in t.samples("test", limit=2, seed=0)]
    assert default[0][0] == f"{task}-test-0-00000"
    with pytest.raises(harness.ConfigError, match=f"Task '{task}' has no sample option 'bogus'"):
        list(t.samples("test", limit=1, bogus=True))


# -- sat's rotations, as the evaluation reads them -----------------------------------------


def sample(choices):
    return harness.Sample("q7", [], "Where?", list(choices), choices[0] if choices else "x", {"source": "s.parquet:3"})


def test_sat_rotations_carry_their_group_and_position_in_meta():
    sat = harness.get_task("sat")
    rots = list(sat.samples("test", limit=1, circular=True))
    base = next(iter(sat.samples("test", limit=1)))
    assert [r.id for r in rots] == [f"{base.id}#r{k}" for k in range(len(base.choices))]
    for k, r in enumerate(rots):
        assert r.meta == {**base.meta, "circular_of": base.id, "rotation": k}
        assert r.choices == base.choices[k:] + base.choices[:k]
        assert (r.answer, r.question, r.images) == (base.answer, base.question, base.images)


def test_sat_rotations_of_degenerate_choice_lists():
    from harness.tasks.sat import rotations

    (one,) = rotations(sample(["only"]))
    assert (one.id, one.choices, one.meta["rotation"], one.meta["circular_of"]) == ("q7#r0", ["only"], 0, "q7")
    (none,) = rotations(sample([]))
    assert (none.id, none.choices, none.meta) == (
        "q7#r0",
        [],
        {"source": "s.parquet:3", "circular_of": "q7", "rotation": 0},
    )


@pytest.mark.parametrize(
    "sample_id, group",
    [
        ("q7#r2", "q7"),
        ("q7#r10", "q7"),
        ("a#r1#r2", "a#r1"),  # only the last mark is the rotation
        ("q7#rx", None),  # not a rotation number
        ("q7#r", None),
        ("q7", None),
        ("7", None),
        ("#r3", ""),
    ],
)
def test_sat_circular_group(sample_id, group):
    from harness.tasks.sat import circular_group

    assert circular_group(sample_id) == group


def test_sat_circular_metrics_group_by_the_last_rotation_mark():
    sat = harness.get_task("sat")
    records = [
        {"id": "a#r1#r0", "correct": True, "prediction": "A"},
        {"id": "a#r1#r1", "correct": True, "prediction": "A"},
        {"id": "a#r2#r0", "correct": False, "prediction": "A"},
        {"id": "plain", "correct": True, "prediction": "A"},
        {"correct": True, "prediction": "A"},  # no id: not a rotation
    ]
    metrics = sat.metrics(records)
    assert (metrics["circular_accuracy"], metrics["circular_n"]) == (0.5, 2.0)
    assert metrics["accuracy"] == 0.8
