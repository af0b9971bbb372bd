"""The ``trl`` training backend: GRPO (RFT) and SFT in-process on one node, with TRL.

Modules: :mod:`.backend` (checks and the run), :mod:`.settings` (the ``trl:``
section), :mod:`.environment` (devices, processes, checkpoints),
:mod:`.data` (task samples as TRL datasets), :mod:`.rewards` (harness rewards
as TRL reward functions), :mod:`.metrics` (``metrics.jsonl``), :mod:`.train`
(the trainers). Nothing heavy is imported when this plugin loads.
"""

import harness
from harness.plugins.backends.trl.backend import TrlBackend


@harness.hookimpl
def register_backends(register):
    register(TrlBackend())
