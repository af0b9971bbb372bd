"""A sample's chat messages and images as model inputs: one home for the conversion.

A task's ``build_prompt`` returns chat messages whose image parts hold the
image (``{"type": "image", "image": ImageRef | PIL.Image | path | bytes}``;
the built-in tasks hold :class:`harness.data.ImageRef` references, decoded
only here). Every consumer turns them into model inputs here, so the engines
(``hf``, ``vllm``, ``lm-eval``), the TRL data builder and the OpenRLHF
exporter hand a model the same text and the same images:

- :func:`render_prompt`: the chat-templated prompt text (generation prompt,
  then the template's prefill), with one image placeholder per image;
- :func:`prompt_images`: the images in placeholder order, decoded now as RGB
  PIL images (call it per batch and drop them after: that keeps memory flat);
- :func:`split_images`: TRL's conversational vision rows (image parts become
  placeholders, the images travel in a separate list);
- :func:`stored_image`: an image as ``datasets``' ``Image`` feature stores it,
  a file path or encoded bytes where possible, decoded lazily on access.
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
    """The images of a conversation, in order, decoded now as RGB ``PIL.Image`` objects.

    An image entry is ``{"type": "image", "image": ImageRef | PIL.Image | path
    | bytes}`` (or ``"path"`` instead of ``"image"``). References, paths and
    bytes are decoded here, paths and bytes with :func:`harness.data.load_image`
    (its size cap and checks; a reference was checked when its row was read,
    and its errors name its dataset file and row); URLs are
    refused (nothing is downloaded).
    """
    from PIL import Image

    from harness.data import ImageRef, load_image

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
            elif isinstance(value, ImageRef):
                images.append(value.open())
            elif isinstance(value, (bytes, bytearray)) or (
                isinstance(value, (str, Path)) and not str(value).startswith(("http://", "https://"))
            ):
                images.append(load_image(value, where, None))
            else:
                raise DataError(
                    f"{where}: image entry {value!r:.80} is not a PIL image, an ImageRef, bytes or a local "
                    "file path (nothing is downloaded)."
                )
    return images


def stored_image(image: Any) -> Any:
    """``image`` as ``datasets``' ``Image`` feature stores it, without decoding it where it can.

    An :class:`~harness.data.ImageRef` becomes ``{"path": file}`` or
    ``{"bytes": encoded}`` (``datasets`` decodes it when a row is read); a path
    stays a path; a cropped or downscaled reference is decoded now (what was
    done to it has to be stored), and a PIL image is returned in RGB
    (``datasets`` encodes both).
    """
    from harness.data import ImageRef

    if isinstance(image, ImageRef):
        if image.processed:
            return image.open()
        if image.path is not None:
            return {"path": str(image.path), "bytes": None}
        return {"path": None, "bytes": image.source}
    if isinstance(image, (str, Path)):
        return {"path": str(image), "bytes": None}
    if isinstance(image, (bytes, bytearray)):
        return {"path": None, "bytes": bytes(image)}
    return rgb(image)


def split_images(messages: Sequence[dict[str, Any]], sample_id: str) -> tuple[Messages, list[Any]]:
    """``(messages with TRL image placeholders, images in order)``; every content becomes a list of parts.

    TRL's conversational vision rows hold ``{"type": "image", "text": None}``
    parts and the images in a separate ``images`` column.
    """
    out, images = [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
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
