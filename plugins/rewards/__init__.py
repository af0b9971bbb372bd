"""Built-in rewards, one module each: ``accuracy``, ``format``, ``length_norm``.

Each is registered as a factory (the reward class): ``harness.get_reward(
"length_norm", L0=128)`` returns a reward in TRL's convention. Weighted sums
of them come from one spec string, see :func:`harness.reward_from_spec`.
The same objects serve TRL, the OpenRLHF shim and evaluation.
"""

import harness
from harness.plugins.rewards.accuracy import AccuracyReward
from harness.plugins.rewards.format import FormatReward
from harness.plugins.rewards.length_norm import LengthNormReward


@harness.hookimpl
def register_rewards(register):
    for factory in (AccuracyReward, FormatReward, LengthNormReward):
        register(factory)
