"""Import stub of DeepSpeed (GPU-only) for the OpenRLHF contract tests; see ../README.md."""

__version__ = version = "0.19.6"  # the version openrlhf 0.11.2 pins


def __getattr__(name):
    raise AttributeError(f"deepspeed.{name} is GPU-only and not stubbed for the CPU contract tests")
