"""The ``openrlhf`` training backend: GRPO on a Ray cluster through OpenRLHF.

Modules: :mod:`.backend` (checks and the run), :mod:`.settings` (the
``openrlhf:`` section), :mod:`.args` (the ``train_ppo_ray`` command),
:mod:`.export` (prompts, images and the reward shim as a job directory),
:mod:`.reward` (scoring rollouts with harness rewards), :mod:`.reward_func`
(the shim OpenRLHF loads), :mod:`.preflight` (the job's first command on the
cluster), :mod:`.submit` (Ray Jobs and ``job.json``).
"""

import harness
from harness.plugins.backends.openrlhf.backend import OpenRLHFBackend


@harness.hookimpl
def register_backends(register):
    register(OpenRLHFBackend())
