"""rft-harness plugin: the ``counting`` task and the ``length_norm_rep`` reward.

Install it next to the harness (``harness install harness-counting``, or
``pip install -e examples/harness-counting`` from a checkout) and use it by
name: ``harness.get_task("counting")``, ``harness.get_reward("length_norm_rep")``.
"""

__version__ = "0.1.0"
