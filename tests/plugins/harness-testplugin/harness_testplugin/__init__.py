"""A third-party plugin as a user would write one: a template and a reward, via the public API."""

import harness


class ShoutTemplate:
    name = "shout"
    description = "Answer in capitals inside <answer> tags."
    think = False
    prefill = ""

    def instruction(self, answer_hint: str) -> str:
        return f"Answer with {answer_hint} in capital letters inside <answer></answer>."


class ConstantReward:
    """Always ``value``: a reward whose result is easy to check from a test."""

    name = "constant"
    description = "A constant reward (test plugin)."

    def __init__(self, value: float = 1.0):
        self.value = float(value)

    def __call__(self, completions, **columns):
        return [self.value for _ in completions]


@harness.hookimpl
def register_templates(register):
    register(ShoutTemplate())


@harness.hookimpl
def register_rewards(register):
    register(ConstantReward, name="constant")
