"""Weighted reward sums from spec strings: parsing, errors, components, totals."""

from __future__ import annotations

import pytest

import harness
from harness.errors import ConfigError, DataError, UnknownNameError
from harness.rewards.spec import ComponentSpec, format_reward_spec, parse_reward_spec
from harness.testing import registered_plugin


def test_parse_names_weights_and_params():
    spec = " accuracy:1, format(think=false) : 0.5 ,length_norm(L0=128, gated=true, span=think):-0.25"
    assert parse_reward_spec(spec) == [
        ComponentSpec("accuracy", 1.0, {}),
        ComponentSpec("format", 0.5, {"think": False}),
        ComponentSpec("length_norm", -0.25, {"L0": 128, "gated": True, "span": "think"}),
    ]


def test_weight_defaults_to_one_and_values_can_be_quoted():
    assert parse_reward_spec("format(prefill='<think>, then'),accuracy") == [
        ComponentSpec("format", 1.0, {"prefill": "<think>, then"}),
        ComponentSpec("accuracy", 1.0, {}),
    ]
    assert parse_reward_spec('length_norm(tokenizer="/m/a (b)",alpha=2.5,x=none)')[0].params == {
        "tokenizer": "/m/a (b)",
        "alpha": 2.5,
        "x": None,
    }


@pytest.mark.parametrize(
    "spec, where",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("accuracy:", "a number as the weight of 'accuracy'"),
        ("accuracy:one", "a number as the weight of 'accuracy'"),
        ("accuracy:nan", "a finite weight"),
        ("accuracy:inf", "a finite weight"),
        ("accuracy:1,", "a reward name"),
        (",accuracy", "a reward name"),
        ("accuracy;format", "',' or ':weight' after 'accuracy'"),
        ("accuracy format", "',' or ':weight' after 'accuracy'"),
        ("length_norm(L0=128", "',' or ')' after a parameter"),
        ("length_norm(L0)", "'=' after parameter 'L0'"),
        ("length_norm(=3)", "a parameter name"),
        ("length_norm(L0=)", "a value for parameter 'L0'"),
        ("length_norm(L0=1,L0=2)", "each parameter once"),
        ("format(prefill='<think>)", "a closing '"),
        ("accuracy:1,accuracy:2", "appears twice"),
    ],
)
def test_malformed_specs_say_where_and_the_expected_form(fresh_host, spec, where):
    with pytest.raises(ConfigError) as info:
        harness.reward_from_spec(spec)
    assert where in str(info.value)
    assert "expected" in str(info.value) or "twice" in str(info.value)
    if "twice" not in where:
        assert "accuracy:1,format:1,length_norm(L0=128,gated=true):0.5" in str(info.value)


def test_unknown_component_suggests_the_near_name(fresh_host):
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        harness.reward_from_spec("acuracy:1,format:1")
    with pytest.raises(UnknownNameError, match="Did you mean 'length_norm'"):
        harness.reward_from_spec("length-norm:1")


def test_unknown_or_doubled_params_are_config_errors(fresh_host):
    with pytest.raises(
        ConfigError, match=r"'format' does not take 'L0'; it takes: allow_empty_think, prefill, template, think"
    ):
        harness.reward_from_spec("format(L0=3)")
    with pytest.raises(ConfigError, match="'accuracy' does not take 'gated'; it takes: no parameters"):
        harness.reward_from_spec("accuracy", params={"accuracy": {"gated": True}})
    with pytest.raises(ConfigError, match="given in the spec and in params"):
        harness.reward_from_spec("length_norm(L0=3)", params={"length_norm": {"L0": 4}})
    with pytest.raises(ConfigError, match="'format', which the spec"):
        harness.reward_from_spec("accuracy", params={"format": {"think": False}})
    with pytest.raises(ConfigError, match="L0 must be a positive"):
        harness.reward_from_spec("length_norm(L0=-1)")


def test_components_are_exposed_for_trl_and_logs(fresh_host):
    total = harness.reward_from_spec("format:1, length_norm(L0=2,span=think):0.5")
    assert [(c.name, c.weight) for c in total.components] == [("format", 1.0), ("length_norm", 0.5)]
    assert [f.__name__ for f in total.funcs] == ["format", "length_norm"]
    assert total.weights == [1.0, 0.5]
    assert total.components[1].reward.L0 == 2.0 and total.components[1].reward.span == "think"
    assert total.spec == "format:1,length_norm(L0=2,span=think):0.5"
    assert total.__name__ == "weighted_sum"

    texts = ["<think>a b</think><answer>x</answer>", "<answer>x</answer>"]
    details = total.score_details(texts)
    assert list(details) == ["format", "length_norm"]
    assert details["format"] == [1.0, 0.0]
    assert details["length_norm"][0] == 0.5
    totals = total(texts)
    assert totals == [1.0 + 0.5 * details["length_norm"][0], 0.5 * details["length_norm"][1]]
    assert total.score_with_details(texts) == (totals, details)


def test_shared_params_reach_the_components_that_take_them(fresh_host):
    total = harness.reward_from_spec("format:1,length_norm(span=think):1", template="nothink", prefill="")
    assert total.components[0].reward.think is False
    assert total.components[1].reward.prefill == ""
    # A component's own params beat shared ones.
    total = harness.reward_from_spec("format(think=true):1", think=False)
    assert total.components[0].reward.think is True


def test_params_dict_carries_objects_a_string_cannot(fresh_host):
    class Words:
        def encode(self, text, add_special_tokens=False):
            return text.split()

    total = harness.reward_from_spec("length_norm(L0=2):1", params={"length_norm": {"tokenizer": Words()}})
    assert total(["a b"]) == [0.5]


def test_spec_strings_round_trip():
    spec = "accuracy:1,format(think=false,prefill='<think>, x'):0.5,length_norm(L0=128,tokenizer=none):-2"
    items = parse_reward_spec(spec)
    assert parse_reward_spec(format_reward_spec(items)) == items


def test_spec_strings_keep_every_digit_of_a_weight():
    items = parse_reward_spec("accuracy:0.1234567,format:1,length_norm:1e-07")
    text = format_reward_spec(items)
    assert text == "accuracy:0.1234567,format:1,length_norm:1e-07"
    assert parse_reward_spec(text) == items


class BrokenReward:
    name = "broken"
    description = "Returns NaN."

    def __call__(self, **params):
        return lambda completions, **columns: [float("nan")] * len(completions)


class BrokenPlugin:
    @harness.hookimpl
    def register_rewards(self, register):
        register(BrokenReward())


def test_a_component_returning_nan_is_reported_by_name(fresh_host):
    with registered_plugin(BrokenPlugin(), name="broken-plugin", host=fresh_host):
        total = harness.reward_from_spec("format:1,broken:1")
        with pytest.raises(DataError, match="reward 'broken' returned"):
            total(["<answer>x</answer>"])
