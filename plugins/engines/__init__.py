"""Built-in inference engines: ``hf`` (transformers), ``vllm`` and ``lm-eval`` (lm-evaluation-harness).

One module each (:mod:`.hf`, :mod:`.vllm`, :mod:`.lm_eval`); all three render
prompts and images through :mod:`harness.models.inputs`, so they hand a model the
same inputs. Nothing heavy is imported when this plugin loads.
"""

import harness
from harness.plugins.engines.hf import HFEngine
from harness.plugins.engines.lm_eval import LmEvalEngine
from harness.plugins.engines.vllm import VLLMEngine


@harness.hookimpl
def register_engines(register):
    register(HFEngine())
    register(VLLMEngine())
    register(LmEvalEngine())
