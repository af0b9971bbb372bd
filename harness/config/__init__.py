"""Configuration: the strict base model and file loading (base), `harness run`'s RunConfig (run), `harness eval`'s EvalConfig (eval).

The base helpers are re-exported here, for plugins' settings models::

    from harness.config.base import StrictModel
"""

from harness.config.base import (
    MaxImagePixels,
    OutputDir,
    OversizeImages,
    StrictModel,
    build_config,
    deep_merge,
    format_validation_error,
    load_config,
    read_config_file,
)

__all__ = [
    "MaxImagePixels",
    "OutputDir",
    "OversizeImages",
    "StrictModel",
    "build_config",
    "deep_merge",
    "format_validation_error",
    "load_config",
    "read_config_file",
]
