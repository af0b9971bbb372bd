"""Import stub of ``vllm.inputs`` (see ../README.md): the prompt record OpenRLHF hands the engine."""

from typing import Any, TypedDict


class TokensPrompt(TypedDict, total=False):
    prompt_token_ids: list[int]
    multi_modal_data: dict[str, Any]
