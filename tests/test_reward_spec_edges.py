"""The reward spec's edges pinned by value: weight bounds, length limits, empty and quoted parameters, the
canonical text, and each error's exact message.

Written against the survivors of the mutation run over ``harness/rewards/spec.py`` (docs/testing.md).
"""

from __future__ import annotations

import pytest
from test_reward_spec_rules import constant_reward_plugin

import harness
from harness.errors import ConfigError
from harness.rewards.base import FLOAT32_MAX
from harness.rewards.spec import (
    EXAMPLE,
    MAX_COMPONENTS,
    MAX_SPEC_CHARS,
    ComponentSpec,
    RewardSpec,
    format_reward_spec,
    parse_reward_spec,
)
from harness.testing import registered_plugin

FORM = f'expected "name[(key=value,...)][:weight]" items separated by commas, e.g. "{EXAMPLE}"'


# -- weights ----------------------------------------------------------------------------


def test_a_weight_at_the_bound_is_accepted_and_the_bound_shrinks_with_the_component_count():
    assert parse_reward_spec(f"a:{FLOAT32_MAX!r}")[0].weight == FLOAT32_MAX  # the bound itself: accepted
    weight = 0.75 * FLOAT32_MAX  # under the bound for one component, over it for two
    assert parse_reward_spec(f"a:{weight!r}")[0].weight == weight
    spec = f"a:{weight!r},b:1"
    with pytest.raises(ConfigError) as err:
        parse_reward_spec(spec)
    assert str(err.value) == (
        f"reward spec {spec!r}: the weight {weight!r} of 'a' is beyond ±1.701e+38, so the weighted total of its 2 "
        "component(s) would overflow (training sums rewards in float32). Use weights of a sensible size "
        "(e.g. 0.1 to 10)."
    )


def test_a_weight_with_trailing_text_is_named_as_a_weight():
    with pytest.raises(ConfigError) as err:
        parse_reward_spec("accuracy:2X")
    assert str(err.value) == (
        f"reward spec 'accuracy:2X': at character 9 ('2X') expected a number as the weight of 'accuracy'; {FORM}."
    )


def test_reward_values_are_bounded_by_the_specs_component_count(fresh_host):
    value = 0.75 * FLOAT32_MAX  # one component: fine; two: their float32 sum could overflow
    with registered_plugin(constant_reward_plugin(value), name="constant-plugin"):
        assert harness.reward_from_spec("fixed-value:1").score_details(["a"]) == {"fixed-value": [value]}
        with pytest.raises(harness.DataError, match=r"beyond ±1\.701e\+38: the weighted total of the 2 component"):
            harness.reward_from_spec("fixed-value:1,format:1").score_details(["a"])


# -- lengths ----------------------------------------------------------------------------


def test_a_spec_of_exactly_the_limit_is_read_and_one_character_more_is_refused():
    head = "accuracy(note="
    spec = head + "n" * (MAX_SPEC_CHARS - len(head) - 1) + ")"
    assert len(spec) == MAX_SPEC_CHARS
    assert parse_reward_spec(spec)[0].params["note"] == "n" * (MAX_SPEC_CHARS - len(head) - 1)
    longer = spec[:-1] + "n)"
    with pytest.raises(ConfigError) as err:
        parse_reward_spec(longer)
    assert str(err.value) == (
        f"reward spec {longer[:60]!r}... is {MAX_SPEC_CHARS + 1} characters long; at most {MAX_SPEC_CHARS} are "
        "read. A spec lists each registered reward once: shorten it."
    )


def test_too_many_components_are_refused_with_the_spec_cut_short():
    spec = ",".join(f"r{i}" for i in range(MAX_COMPONENTS + 1))
    with pytest.raises(ConfigError) as err:
        parse_reward_spec(spec)
    assert str(err.value) == (
        f"reward spec {spec[:200]!r}... ({len(spec)} characters) has more than {MAX_COMPONENTS} components; "
        "a spec lists each registered reward once: shorten it."
    )


@pytest.mark.parametrize("length", [200, 201])
def test_errors_quote_a_spec_whole_up_to_200_characters(length):
    spec = "a" * (length - 3) + ",a,"  # ends in a comma: no name after it
    with pytest.raises(ConfigError) as err:
        parse_reward_spec(spec)
    shown = repr(spec) if length <= 200 else repr(spec[:200]) + f"... ({length} characters)"
    assert str(err.value).startswith(f"reward spec {shown}: ")


def test_a_repeated_component_says_to_sum_the_weights():
    with pytest.raises(ConfigError) as err:
        parse_reward_spec("accuracy:1,format,accuracy:2")
    assert str(err.value) == (
        "reward spec 'accuracy:1,format,accuracy:2': 'accuracy' appears twice; list each reward once (sum the weights)."
    )


# -- parameters -------------------------------------------------------------------------


def test_empty_parentheses_are_no_parameters_and_the_weight_follows():
    assert parse_reward_spec("accuracy():2,format( ),length_norm") == [
        ComponentSpec("accuracy", 2.0, {}),
        ComponentSpec("format", 1.0, {}),
        ComponentSpec("length_norm", 1.0, {}),
    ]


def test_values_keep_every_character_up_to_a_comma_or_parenthesis():
    (item,) = parse_reward_spec("r(path=/data/X1/tok.json,empty=null,off=none)")
    assert item.params == {"path": "/data/X1/tok.json", "empty": None, "off": None}


@pytest.mark.parametrize(
    "spec, at, near, expected",
    [
        ("r(=1)", 2, "=1)", "a parameter name"),
        ('r(a="1" b=2)', 8, "b=2)", "',' or ')' after a parameter"),
    ],
)
def test_parameter_errors_say_what_was_expected(spec, at, near, expected):
    with pytest.raises(ConfigError) as err:
        parse_reward_spec(spec)
    assert str(err.value) == f"reward spec {spec!r}: at character {at} ({near!r}) expected {expected}; {FORM}."


def test_the_canonical_text_quotes_only_what_would_not_read_back():
    items = [
        ComponentSpec(
            "r",
            0.5,
            {
                "on": True,
                "off": False,
                "unset": None,
                "plain": "abc",
                "comma": "a,b",
                "paren": "f(x)",
                "said": 'say "hi"',
                "apostrophe": "it's",
                "number_text": "12",
                "padded": " x ",
                "empty": "",
                "capital": "aXb",
            },
        )
    ]
    text = format_reward_spec(items)
    assert text == (
        'r(on=true,off=false,unset=none,plain=abc,comma="a,b",paren="f(x)",said=\'say "hi"\','
        'apostrophe="it\'s",number_text="12",padded=" x ",empty="",capital=aXb):0.5'
    )
    assert parse_reward_spec(text) == items  # it reads back to the same items


def test_specs_that_differ_hash_apart():
    specs = {RewardSpec.parse(s) for s in ("accuracy", "format", "accuracy:2", "accuracy,format")}
    assert len({hash(s) for s in specs}) == 4


# -- building ---------------------------------------------------------------------------


def test_params_for_a_component_the_spec_lacks_name_it_and_the_spec():
    with pytest.raises(ConfigError) as err:
        harness.reward_from_spec("accuracy", params={"length_norm": {"L0": 3}, "format": {}})
    assert str(err.value) == (
        "reward params for 'format', 'length_norm', which the spec 'accuracy:1' does not list; add them to the "
        "spec or drop their params."
    )


def test_a_parameter_in_the_spec_and_in_params_is_refused_and_params_reach_the_reward():
    with pytest.raises(ConfigError) as err:
        harness.reward_from_spec("length_norm(L0=3)", params={"length_norm": {"L0": 4}})
    assert str(err.value) == ("reward 'length_norm': parameter 'L0' is given in the spec and in params; give it once.")
    reward = harness.reward_from_spec("length_norm", params={"length_norm": {"L0": 4, "alpha": 2.0}})
    (component,) = reward.components
    assert (component.reward.L0, component.reward.alpha) == (4.0, 2.0)


def test_unknown_parameters_are_listed_with_what_the_reward_takes():
    with pytest.raises(ConfigError) as err:
        harness.reward_from_spec("accuracy(zeta=1,beta=2)")
    assert str(err.value).startswith("reward 'accuracy' does not take 'beta', 'zeta'; it takes: ")


def test_a_reward_taking_any_keyword_gets_every_spec_parameter(fresh_host):
    class Open:
        name = "open-params"

        def __init__(self, **options):
            self.options = options

        def __call__(self, completions, **columns):
            return [0.0] * len(completions)

    class Plugin:
        @harness.hookimpl
        def register_rewards(self, register):
            register(Open)

    with registered_plugin(Plugin(), name="open-params-plugin"):
        (component,) = harness.reward_from_spec("open-params(zeta=1,beta=x)").components
    assert component.reward.options == {"zeta": 1, "beta": "x"}
