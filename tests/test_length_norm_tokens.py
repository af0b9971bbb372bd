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


def test_a_tokenizer_directory_loads_locally_and_a_processor_counts_with_its_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    texts = ["<think>count the red circles</think><answer>3</answer>", "a b"]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir), local_files_only=True)
    expected = harness.get_reward("length_norm", L0=3, tokenizer=tokenizer)(texts)
    by_path = harness.get_reward("length_norm", L0=3, tokenizer=str(tiny_model_dir))
    assert by_path(texts) == expected
    processor = harness.load_model(str(tiny_model_dir), device="cpu").processor  # the harness's image-only processor
    assert hasattr(processor, "image_processor")
    assert harness.get_reward("length_norm", L0=3, tokenizer=processor)(texts) == expected


def test_a_tokenizer_directory_never_runs_its_own_code(tmp_path):
    """trust_remote_code stays off: a tokenizer folder that asks for custom code is refused, its code not run."""
    folder = tmp_path / "tok"
    folder.mkdir()
    tokenizer_adding_special_tokens().save(str(folder / "tokenizer.json"))
    marker = tmp_path / "ran"
    (folder / "custom_tok.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import PreTrainedTokenizerFast\n"
        "class CustomTokenizer(PreTrainedTokenizerFast):\n    pass\n"
    )
    (folder / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "CustomTokenizer", "auto_map": {"AutoTokenizer": [null, "custom_tok.CustomTokenizer"]}}'
    )
    with pytest.raises(
        harness.ConfigError,
        match=rf"^reward 'length_norm': '{folder}' is not a tokenizer \(ValueError: .*"
        r"give a model directory with tokenizer files",
    ):
        harness.get_reward("length_norm", tokenizer=str(folder))
    assert not marker.exists()


def test_a_missing_tokenizer_path_says_what_to_give():
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("length_norm", tokenizer="/no/such/tokenizer")
    assert str(err.value) == (
        "reward 'length_norm': tokenizer path '/no/such/tokenizer' does not exist; give a local "
        "model directory, a tokenizer.json file, or a tokenizer object."
    )
