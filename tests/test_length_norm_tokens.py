"""``length_norm`` counts the completion's own tokens: a tokenizer's special tokens are never counted."""

from __future__ import annotations

import math

import pytest

import harness


def tokenizer_adding_special_tokens():
    """A word-level ``tokenizers.Tokenizer`` whose post-processor wraps every text in [BOS] ... [EOS]."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[UNK]": 0, "[BOS]": 1, "[EOS]": 2, "a": 3, "b": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 1), ("[EOS]", 2)]
    )
    assert len(tok.encode("a b").ids) == 4  # the wrapping is real
    return tok


class EncodeOnly:
    """A tokenizer with nothing but ``encode(text, add_special_tokens=...)`` (ids as a list)."""

    def __init__(self, inner):
        self.inner = inner

    def encode(self, text, add_special_tokens=True):
        return self.inner.encode(text, add_special_tokens=add_special_tokens).ids


@pytest.mark.parametrize("form", ["object", "file", "transformers", "encode-only"])
def test_special_tokens_are_not_counted(tmp_path, form):
    tok = tokenizer_adding_special_tokens()
    if form == "file":
        tok.save(str(tmp_path / "tokenizer.json"))
        tok = str(tmp_path / "tokenizer.json")
    elif form == "transformers":
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", unk_token="[UNK]")
        assert len(tok("a b")["input_ids"]) == 4
    elif form == "encode-only":
        tok = EncodeOnly(tok)
    reward = harness.get_reward("length_norm", L0=2, tokenizer=tok)
    # 4 words -> 4 tokens: R = sigmoid((4 - 2) / 2); with [BOS] and [EOS] it would be sigmoid(2)
    assert reward(["a b a b", "a b"]) == [pytest.approx(1 / (1 + math.exp(-1))), 0.5]
