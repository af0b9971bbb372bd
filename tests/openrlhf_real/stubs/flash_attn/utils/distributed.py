"""Import stub (see ../../README.md)."""


def all_gather(*args, **kwargs):
    raise RuntimeError("flash_attn.utils.distributed.all_gather needs CUDA, not available in the CPU contract tests")
