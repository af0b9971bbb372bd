"""The plugin's own tests: registered in a fresh host, used through the public API."""

import pytest

import harness
from harness.testing import fresh_host, registered_plugin
from harness_counting import plugin


@pytest.fixture
def counting_host():
    # entry_points=False: the test works whether or not the package is installed.
    with fresh_host(entry_points=False), registered_plugin(plugin, name="counting-under-test") as host:
        yield host


def test_synthetic_samples_answer_with_their_own_count(counting_host):
    task = harness.get_task("counting")
    sample = next(task.samples("test", limit=1))
    assert sample.question.startswith("How many ")
    assert task.is_correct(f"<think>I count them.</think><answer>{sample.answer}</answer>", sample)
    assert not task.is_correct(f"<answer>{sample.answer} or {int(sample.answer) + 1}</answer>", sample)


def test_length_norm_rep_penalizes_repetition(counting_host):
    reward = harness.get_reward("length_norm_rep", L0=8)
    varied = "<think>" + " ".join(f"w{i}" for i in range(16)) + "</think><answer>3</answer>"
    padded = "<think>" + "the same words " * 6 + "</think><answer>3</answer>"
    assert reward([varied])[0] > reward([padded])[0]
