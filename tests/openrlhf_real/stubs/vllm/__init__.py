"""Import stub of vLLM (GPU-only) for the OpenRLHF contract tests; see ../README.md.

``SamplingParams`` holds the arguments OpenRLHF's samples generator passes
(its real counterpart is a plain parameter record too); everything else is
missing on purpose.
"""

from dataclasses import dataclass

__version__ = "0.29.0"  # the version openrlhf 0.11.2 pins


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: int | None = 16
    min_tokens: int = 0
    skip_special_tokens: bool = True
    logprobs: int | None = None


def __getattr__(name):
    raise AttributeError(f"vllm.{name} is GPU-only and not stubbed for the CPU contract tests")
