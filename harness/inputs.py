"""A sample's chat messages and images as model inputs: one home for the conversion.

A task's ``build_prompt`` returns chat messages whose image parts hold the
image itself (``{"type": "image", "image": PIL.Image | path}``). Every
consumer turns them into model inputs here, so the engines (``hf``, ``vllm``,
``lm-eval``), the TRL data builder and the OpenRLHF exporter hand a model
the same text and the same images:

- :func:`render_prompt`: the chat-templated prompt text (generation prompt,
  then the template's prefill), with one image placeholder per image;
- :func:`prompt_images`: the images in placeholder order, as RGB PIL images;
- :func:`split_images`: TRL's conversational vision rows (image parts become
  placeholders, the images travel in a separate list).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import DataError

Messages = list[dict[str, Any]]


def _is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and (part.get("type") == "image" or "image" in part)


def placeholder_messages(messages: Sequence[dict[str, Any]]) -> Messages:
    """``messages`` with every image part reduced to ``{"type": "image"}`` (chat templates need no pixels)."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [{"type": "image"} if _is_image_part(part) else dict(part) for part in content]
        out.append({**message, "content": content})
    return out


def render_prompt(processor: Any, messages: Sequence[dict[str, Any]], prefill: str = "") -> str:
    """The prompt text: the chat template with the assistant turn opened, then ``prefill``.

    If the conversation already ends with an assistant message, that message is
    continued instead of a new turn being opened.
    """
    shown = placeholder_messages(messages)
    if shown and shown[-1].get("role") == "assistant":
        text = processor.apply_chat_template(shown, continue_final_message=True, tokenize=False)
    else:
        text = processor.apply_chat_template(shown, add_generation_prompt=True, tokenize=False)
    if isinstance(text, list):  # some processors return one string per conversation
        text = text[0]
    return text + (prefill or "")


def rgb(image: Any) -> Any:
    """A PIL image in RGB mode (converted only when it is not)."""
    return image if getattr(image, "mode", "RGB") == "RGB" else image.convert("RGB")


def prompt_images(messages: Sequence[dict[str, Any]], index: int | None = None) -> list[Any]:
    """The images of a conversation, in order, as RGB ``PIL.Image`` objects.

    An image entry is ``{"type": "image", "image": PIL.Image | path}`` (or
    ``"path"`` instead of ``"image"``). Paths are opened locally with
    :func:`harness.data.load_image` (its size cap and checks); URLs are
    refused (nothing is downloaded).
    """
    from PIL import Image

    where = f"prompt {index}" if index is not None else "prompt"
    images = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) or content is None:
            continue
        for part in content:
            if not _is_image_part(part):
                continue
            value = part.get("image", part.get("path"))
            if isinstance(value, Image.Image):
                images.append(rgb(value))
                continue
            if isinstance(value, (str, Path)) and not str(value).startswith(("http://", "https://")):
                from harness.data import load_image

                images.append(load_image(value, where, None))  # the same checks (size cap, decoding) as loaders
                continue
            raise DataError(
                f"{where}: image entry {value!r:.80} is not a PIL image or a local file path "
                "(nothing is downloaded)."
            )
    return images


def split_images(messages: Sequence[dict[str, Any]], sample_id: str) -> tuple[Messages, list[Any]]:
    """``(messages with TRL image placeholders, images in order)``; every content becomes a list of parts.

    TRL's conversational vision rows hold ``{"type": "image", "text": None}``
    parts and the images in a separate ``images`` column.
    """
    out, images = [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}]
        elif isinstance(content, list):
            parts = []
            for part in content:
                kind = part.get("type")
                if kind == "image":
                    if part.get("image") is None:
                        raise DataError(f"sample {sample_id!r}: an image part of its prompt holds no image.")
                    images.append(part["image"])
                    parts.append({"type": "image", "text": None})
                elif kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                else:
                    raise DataError(
                        f"sample {sample_id!r}: prompt part of type {kind!r}; only 'text' and "
                        "'image' parts can be turned into model inputs."
                    )
        else:
            raise DataError(f"sample {sample_id!r}: message content must be a string or a list of parts.")
        out.append({"role": message["role"], "content": parts})
    return out, images
