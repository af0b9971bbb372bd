"""The reward spec's exact error messages and the parsed ``RewardSpec`` object (equality, pydantic fields)."""

from __future__ import annotations

import pydantic
import pytest

import harness
from harness.errors import ConfigError
from harness.rewards.spec import EXAMPLE, RewardSpec

FORM = f'expected "name[(key=value,...)][:weight]" items separated by commas, e.g. "{EXAMPLE}"'


@pytest.mark.parametrize(
    "spec, at, near, expected",
    [
        ("accuracy:1,", 11, "end of spec", "a reward name"),
        ("accuracy:one", 9, "one", "a number as the weight of 'accuracy'"),
        ("accuracy:1,format:1,length_norm(L0=128,gated=true)?", 50, "?", "',' or ':weight' after 'length_norm'"),
        ("length_norm(L0=1, alpha)", 23, ")", "'=' after parameter 'alpha'"),
        ("x" * 10 + "!" + "y" * 30, 10, "!" + "y" * 19, "',' or ':weight' after 'xxxxxxxxxx'"),
    ],
)
def test_a_malformed_spec_says_exactly_where(spec, at, near, expected):
    with pytest.raises(ConfigError) as info:
        harness.reward_from_spec(spec)
    assert str(info.value) == f"reward spec {spec!r}: at character {at} ({near!r}) expected {expected}; {FORM}."


def test_an_empty_spec_shows_the_form():
    for spec in ("", "   "):
        with pytest.raises(ConfigError) as info:
            RewardSpec.parse(spec)
        assert str(info.value) == f"reward spec {spec!r} is empty; {FORM}."


def test_a_parsed_spec_is_canonical_text_and_compares_by_its_items():
    spec = RewardSpec.parse(" accuracy , format( think = false ):2 ")
    assert str(spec) == "accuracy:1,format(think=false):2"
    assert repr(spec) == "RewardSpec('accuracy:1,format(think=false):2')"
    assert spec.names == ["accuracy", "format"]
    assert "format" in spec and "length_norm" not in spec
    assert RewardSpec.parse(spec) is spec  # parsed once
    same = RewardSpec.parse("accuracy:1.0,format(think=false):2.0")
    assert same == spec and hash(same) == hash(spec) and len({spec, same}) == 1
    assert spec != RewardSpec.parse("accuracy:1,format(think=false):3")
    assert spec != "accuracy:1,format(think=false):2"  # a spec is not its text
    assert harness.reward_from_spec(spec).spec == str(spec)


def model_class():
    """A model with a ``RewardSpec`` field, built when called (pydantic reads the field's hooks then)."""

    class Model(pydantic.BaseModel):
        reward: RewardSpec

    return Model


def test_a_pydantic_field_takes_text_or_a_spec_and_writes_text():
    Model = model_class()
    model = Model(reward="accuracy, format:0.5")
    assert isinstance(model.reward, RewardSpec) and str(model.reward) == "accuracy:1,format:0.5"
    assert Model(reward=model.reward).reward is model.reward
    assert model.model_dump() == {"reward": "accuracy:1,format:0.5"}
    assert model.model_dump_json() == '{"reward":"accuracy:1,format:0.5"}'
    assert Model.model_json_schema()["properties"]["reward"] == {
        "type": "string",
        "examples": [EXAMPLE],
        "title": "Reward",
    }


@pytest.mark.parametrize(
    "value, message",
    [
        (3, f"a reward spec is text such as {EXAMPLE!r}, not int"),
        (None, f"a reward spec is text such as {EXAMPLE!r}, not NoneType"),
        (
            "accuracy:x",
            f"reward spec 'accuracy:x': at character 9 ('x') expected a number as the weight of 'accuracy'; {FORM}.",
        ),
    ],
)
def test_a_pydantic_field_refuses_what_is_not_a_spec_with_the_reason(value, message):
    with pytest.raises(pydantic.ValidationError) as info:
        model_class()(reward=value)
    (error,) = info.value.errors()
    assert error["msg"] == f"Value error, {message}"


def constant_reward_plugin(value):
    class Constant:
        name = "fixed-value"

        def __init__(self):
            pass

        def __call__(self, completions, **columns):
            return [value] * len(completions)

    class Plugin:
        @harness.hookimpl
        def register_rewards(self, register):
            register(Constant)

    return Plugin()


@pytest.mark.parametrize("value", [1.5e308, -1.7e308])
def test_huge_finite_rewards_that_could_overflow_the_total_are_refused_by_name(fresh_host, value):
    from harness.testing import registered_plugin

    with registered_plugin(constant_reward_plugin(value), name="constant-plugin"):
        reward = harness.reward_from_spec("fixed-value:1")
        with pytest.raises(harness.DataError) as err:
            reward.score_details(["a", "b", "c"])
    assert str(err.value) == (
        f"reward 'fixed-value' returned {value!r} for completion 0, which its weight 1.0 makes {value!r}, beyond "
        "±3.403e+38: the weighted total of the 1 component(s) could overflow (training sums rewards in float32). "
        "Lower the weight or bound the reward."
    )


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_reward_is_refused_by_name(fresh_host, value):
    from harness.testing import registered_plugin

    with registered_plugin(constant_reward_plugin(value), name="constant-plugin"):
        with pytest.raises(harness.DataError) as err:
            harness.reward_from_spec("fixed-value:1")(["a", "b"])
    assert (
        str(err.value)
        == f"reward 'fixed-value' returned {value!r} for completion 0; a reward must return finite numbers."
    )
