"""Import stub (see ../../../README.md): the enum OpenRLHF imports at module level."""

from enum import Enum


class ZeroParamStatus(Enum):
    AVAILABLE = 1
    NOT_AVAILABLE = 2
    INFLIGHT = 3
