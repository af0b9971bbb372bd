"""Import stub (see ../README.md): the names ring_attn_utils imports; calling one fails."""


def _gpu_only(name):
    def call(*args, **kwargs):
        raise RuntimeError(f"flash_attn.bert_padding.{name} is a CUDA kernel, not available in the CPU contract tests")

    call.__name__ = name
    return call


index_first_axis = _gpu_only("index_first_axis")
pad_input = _gpu_only("pad_input")
unpad_input = _gpu_only("unpad_input")
rearrange = _gpu_only("rearrange")
