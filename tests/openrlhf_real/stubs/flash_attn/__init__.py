"""Import stub of flash-attn (CUDA kernels) for the OpenRLHF contract tests; see ../README.md."""
