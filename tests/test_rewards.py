"""Built-in rewards: accuracy, format, length_norm — behaviour, hacking cases, TRL's calling convention."""

from __future__ import annotations

import math

import pytest

import harness
from harness.errors import ConfigError, DataError
from harness.plugins.rewards.format import is_well_formed
from harness.plugins.rewards.length_norm import DEFAULT_L0, sigmoid_length
from harness.testing import registered_plugin


class LetterTask:
    """A strict multiple-choice task: the last <answer> must be the gold letter, nothing else."""

    name = "letters"
    description = "Answer with one letter."
    splits = ("test",)

    def __init__(self):
        self.seen = []

    def samples(self, split, source=None, limit=None, seed=0):
        yield from ()

    def build_prompt(self, sample, template):
        return [{"role": "user", "content": [{"type": "text", "text": sample.question}]}]

    def extract_answer(self, completion):
        answer = harness.last_answer(completion)
        return answer.upper() if answer else None

    def is_correct(self, completion, sample):
        self.seen.append(sample)
        return self.extract_answer(completion) == sample.answer

    def metrics(self, records):
        return {"accuracy": sum(r["correct"] for r in records) / max(len(records), 1)}


class LetterPlugin:
    def __init__(self, task):
        self.task = task

    @harness.hookimpl
    def register_tasks(self, register):
        register(self.task)


@pytest.fixture
def letters(fresh_host):
    task = LetterTask()
    with registered_plugin(LetterPlugin(task), name="letters-plugin", host=fresh_host):
        yield task


def cols(n, answer="A", task="letters"):
    return {
        "task": [task] * n,
        "answer": [answer] * n,
        "choices": [["A", "B", "C"]] * n,
        "meta": [{"k": i} for i in range(n)],
        "id": [f"row{i}" for i in range(n)],
    }


GOOD = "<think>The sign says B is wrong.</think> <answer>A</answer>"


# -- registration -------------------------------------------------------------------


def test_builtins_are_registered_with_stable_names(fresh_host):
    for name in ("accuracy", "format", "length_norm"):
        reward = harness.get_reward(name)
        assert reward.name == name
        assert reward.__name__ == name  # TRL logs reward functions by __name__
        assert isinstance(reward, harness.Reward)


def test_an_empty_batch_gives_an_empty_list(letters):
    for name in ("accuracy", "format", "length_norm"):
        assert harness.get_reward(name)([], **cols(0)) == []
    assert harness.reward_from_spec("accuracy:1,format:1,length_norm:1")([], **cols(0)) == []


# -- accuracy -------------------------------------------------------------------------


def test_accuracy_uses_the_tasks_rule_with_the_row_fields(letters):
    reward = harness.get_reward("accuracy")
    completions = [GOOD, "<answer>b</answer>", "<think>hm</think><answer>a</answer>", "A"]
    assert reward(completions, **cols(4)) == [1.0, 0.0, 1.0, 0.0]
    first = letters.seen[0]
    assert (first.id, first.answer, first.choices, first.meta) == ("row0", "A", ["A", "B", "C"], {"k": 0})
    assert first.images == [] and first.question == ""


def test_accuracy_reads_conversational_completions(letters):
    reward = harness.get_reward("accuracy")
    chat = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": "<answer>C</answer>"}]]
    assert reward(chat, **cols(2)) == [1.0, 0.0]


def test_accuracy_without_optional_columns_and_with_a_task_string(letters):
    reward = harness.get_reward("accuracy")
    assert reward(["<answer>A</answer>"], task="letters", answer=["A"]) == [1.0]


def test_accuracy_accepts_meta_as_json_text(letters):
    reward = harness.get_reward("accuracy")
    assert reward([GOOD], task="letters", answer=["A"], meta=['{"k": 7}']) == [1.0]
    assert letters.seen[-1].meta == {"k": 7}
    with pytest.raises(DataError, match="row 0 has a 'meta' string that is not JSON"):
        reward([GOOD], task="letters", answer=["A"], meta=["{oops"])


def test_accuracy_names_a_missing_column_and_a_short_one(letters):
    reward = harness.get_reward("accuracy")
    with pytest.raises(DataError, match="needs the column 'answer'"):
        reward([GOOD], task=["letters"])
    with pytest.raises(DataError, match="column 'answer' has 1 rows but there are 2"):
        reward([GOOD, GOOD], task=["letters", "letters"], answer=["A"])


def test_accuracy_unknown_task_says_what_exists(letters):
    with pytest.raises(harness.UnknownNameError, match="letters"):
        harness.get_reward("accuracy")([GOOD], task=["leters"], answer=["A"])


def test_accuracy_rejects_a_completion_of_the_wrong_type(letters):
    with pytest.raises(DataError, match="completion 1"):
        harness.get_reward("accuracy")([GOOD, 42], **cols(2))


@pytest.mark.parametrize("task_name", ["banner", "fgvc", "sat"])
def test_accuracy_follows_a_real_tasks_rule(fresh_host, task_name):
    if task_name not in harness.list_tasks():
        pytest.skip(f"task {task_name!r} is not built yet")
    task = harness.get_task(task_name)
    sample = next(iter(task.samples("test", limit=1)))
    decoy = next((c for c in sample.choices or [] if c != sample.answer), "something else")
    completions = [
        f"<think>I look at the image.</think><answer>{sample.answer}</answer>",
        f"<think>?</think><answer>{sample.answer} or {decoy}</answer>",
        f"<think>?</think><answer>{decoy}</answer>",
        "<think>?</think><answer></answer>",
    ]
    columns = {k: [v] * len(completions) for k, v in sample.reward_columns(task_name).items()}
    expected = [float(task.is_correct(c, sample)) for c in completions]
    assert harness.get_reward("accuracy")(completions, **columns) == expected == [1.0, 0.0, 0.0, 0.0]


def test_rewards_survive_pickling(letters):
    import pickle

    total = harness.reward_from_spec("accuracy:1,format:1,length_norm(L0=3,gated=true):0.5")
    copy = pickle.loads(pickle.dumps(total))
    texts = [GOOD, "<answer>B</answer>"]
    assert copy(texts, **cols(2)) == total(texts, **cols(2))
    assert [f.__name__ for f in copy.funcs] == ["accuracy", "format", "length_norm"]


# -- format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "\n <think>\nmulti\nline\n</think>\n\n<answer> A </answer>\n",
    ],
)
def test_format_accepts_the_think_layout(text):
    assert harness.get_reward("format")([text]) == [1.0]


def test_format_without_think_wants_only_an_answer():
    reward = harness.get_reward("format", think=False)
    assert reward(["<answer>A</answer>", "  <answer>A</answer>\n", GOOD, "<answer></answer>"]) == [
        1.0,
        1.0,
        0.0,
        0.0,
    ]


def test_format_reads_think_and_prefill_from_the_template(fresh_host):
    assert harness.get_reward("format", template="nothink")(["<answer>A</answer>"]) == [1.0]
    assert harness.get_reward("format", template="think")(["<answer>A</answer>"]) == [0.0]
    with pytest.raises(ConfigError, match="contradicts template 'nothink'"):
        harness.get_reward("format", template="nothink", think=True)
    with pytest.raises(ConfigError, match="think must be true or false, got 'false'"):
        harness.get_reward("format", think="false")


class PrefillTemplate:
    name = "prefilled"
    description = "Pre-fills <think>."
    think = True
    prefill = "<think>\n"

    def instruction(self, answer_hint):
        return ""


def test_format_counts_a_prefilled_think_tag_once():
    continued = "The banner is friendly.</think><answer>positive</answer>"
    prefilled = harness.get_reward("format", template=PrefillTemplate())
    plain = harness.get_reward("format")
    assert prefilled([continued]) == [1.0]
    assert plain([continued]) == [0.0]  # without the prefill the <think> is missing
    # An engine that echoes the prefill back is not punished for it either...
    assert prefilled(["<think>\nfriendly</think><answer>positive</answer>"]) == [1.0]
    # ...but the prefill does not excuse a malformed continuation.
    assert prefilled(["friendly<answer>positive</answer>"]) == [0.0]
    assert harness.get_reward("format", prefill="<think>")([continued]) == [1.0]


# -- hacking cases -----------------------------------------------------------------------


def spec_reward():
    return harness.reward_from_spec("accuracy:1,format:1")


def test_hedged_answer_is_not_correct(letters):
    hedge = "<think>not sure</think><answer>A or B or C</answer>"
    assert harness.get_reward("accuracy")([hedge], **cols(1)) == [0.0]
    assert spec_reward()([hedge, GOOD], **cols(2)) == [1.0, 2.0]


@pytest.mark.parametrize(
    "name, text",
    [
        ("empty answer", "<think>x</think><answer></answer>"),
        ("blank answer", "<think>x</think><answer> \n\t</answer>"),
        ("invisible answer", "<think>x</think><answer>\u200b \ufeff\u00ad</answer>"),
        ("punctuation answer", "<think>x</think><answer>.</answer>"),
        ("markdown answer", "<think>x</think><answer>**</answer>"),
        ("brackets answer", "<think>x</think><answer>()</answer>"),
        ("empty think", "<think></think><answer>A</answer>"),
        ("blank think", "<think> \u200b\n</think><answer>A</answer>"),
        ("two answer blocks", "<think>x</think><answer>B</answer><answer>A</answer>"),
        ("two answers, one inside think", "<think><answer>B</answer></think><answer>A</answer>"),
        ("answer before think", "<answer>A</answer><think>x</think>"),
        ("text after answer", "<think>x</think><answer>A</answer> Actually, B."),
        ("prompt echoed before tags", "Which letter? Answer in tags.\n<think>x</think><answer>A</answer>"),
        ("text between blocks", "<think>x</think> so: <answer>A</answer>"),
        ("two think blocks", "<think>x</think><think>y</think><answer>A</answer>"),
        ("unclosed think", "<think>x<answer>A</answer>"),
        ("no tags", "A"),
        ("nested answer", "<think>x</think><answer><answer>A</answer></answer>"),
        ("uppercase tags", "<THINK>x</THINK><ANSWER>A</ANSWER>"),
    ],
)
def test_format_rejects_layout_hacks(name, text):
    assert harness.get_reward("format")([text]) == [0.0], name


def test_an_empty_think_block_pays_only_when_allowed():
    text = "<think></think><answer>A</answer>"
    assert harness.get_reward("format")([text]) == [0.0]
    assert harness.get_reward("format", allow_empty_think=True)([text]) == [1.0]
    with pytest.raises(ConfigError, match="allow_empty_think"):
        harness.get_reward("format", allow_empty_think="yes")


@pytest.mark.parametrize("answer", [".", "**", "()", "\u200b", "\ufeff\u00ad", " - ", "B", "**B**", "zero\u200bwidth"])
def test_format_and_the_tasks_agree_on_what_is_unanswered(fresh_host, answer):
    completion = f"<think>x</think><answer>{answer}</answer>"
    formatted = harness.get_reward("format")([completion]) == [1.0]
    assert formatted is not harness.is_blank_answer(answer)
    for name in ("banner", "fgvc"):
        assert (harness.get_task(name).extract_answer(completion) is not None) is formatted, name
    if not formatted:  # sat also leaves an answer naming no choice unread
        assert harness.get_task("sat").extract_answer(completion) is None


@pytest.mark.parametrize(
    "open_tag, close_tag",
    [
        ("\uff1canswer\uff1e", "\uff1c/answer\uff1e"),  # fullwidth < >
        ("<\u0430nswer>", "</\u0430nswer>"),  # Cyrillic a
        ("\u2039answer\u203a", "\u2039/answer\u203a"),  # single angle quotes
        ("\ufe64answer\ufe65", "\ufe64/answer\ufe65"),  # small form < >
        ("<answer\u200b>", "</answer\u200b>"),  # zero-width space inside
        ("\u3008answer\u3009", "\u3008/answer\u3009"),  # CJK angle brackets
    ],
)
def test_unicode_lookalike_tags_are_not_tags(letters, open_tag, close_tag):
    text = f"<think>x</think>{open_tag}A{close_tag}"
    assert harness.get_reward("format")([text]) == [0.0]
    assert harness.get_reward("format", think=False)([f"{open_tag}A{close_tag}"]) == [0.0]
    assert harness.get_reward("accuracy")([text], **cols(1)) == [0.0]


def test_a_one_megabyte_completion_is_scored_correctly(letters):
    filler = "step " * 200_000  # 1 MB of thinking
    good = f"<think>{filler}</think><answer>A</answer>"
    bad = f"<think>{filler}</think><answer>A</answer>{filler}"
    assert len(good) > 1_000_000
    total = harness.reward_from_spec("accuracy:1,format:1,length_norm:1")
    details = total.score_details([good, bad], **cols(2))
    assert details["accuracy"] == [1.0, 1.0]
    assert details["format"] == [1.0, 0.0]
    assert all(0.99 < v <= 1.0 for v in details["length_norm"])


@pytest.mark.parametrize(
    "text",
    [
        "<think>" * 200_000,
        "<answer>" * 200_000 + "</answer>",
        "<think>" + "<" * 1_000_000 + "</think><answer>A</answer><answer>",
        "<answer></answer>" * 100_000,
        "<think>" + "</think" * 150_000 + "<answer>A</answer>",
        "<" * 500_000 + ">" * 500_000,
        "<think>x</think><answer>" + " " * 1_000_000 + "</answer>",
        "<think>x</think><answer>" + "a" * 1_000_000,
    ],
)
def test_pathological_strings_get_the_right_answer(text):
    # Speed on these is measured in benchmarks/rewards.py; the check is linear by construction.
    assert is_well_formed(text) is False
    assert is_well_formed(text, think=False) is False


def test_near_tags_inside_a_block_are_plain_text():
    assert is_well_formed("<think>" + "</think" * 150_000 + "></think><answer>A</answer>") is False
    assert is_well_formed("<think>" + "</think" * 150_000 + "><answer>A</answer>") is True


# -- length_norm -----------------------------------------------------------------------


def test_length_norm_is_the_papers_sigmoid():
    reward = harness.get_reward("length_norm", L0=4)
    words = lambda n: " ".join(["w"] * n)  # noqa: E731
    r0, r4, r8, r16 = reward([words(0), words(4), words(8), words(16)])
    assert r4 == 0.5
    assert r0 == pytest.approx(1 / (1 + math.e))
    assert r8 == pytest.approx(1 / (1 + math.exp(-1)))
    assert r0 < r4 < r8 < r16 < 1.0
    assert r8 - r4 > r16 - r8  # diminishing returns
    steep = harness.get_reward("length_norm", L0=4, alpha=3.0)([words(8)])[0]
    assert steep == pytest.approx(1 / (1 + math.exp(-3)))


def test_length_norm_default_l0_is_256_words_without_a_tokenizer():
    reward = harness.get_reward("length_norm")
    assert DEFAULT_L0 == 256
    assert reward([" ".join(["w"] * 256)]) == [0.5]


def test_length_norm_is_stable_at_extremes():
    assert sigmoid_length(10**12, 1.0, 1.0) == 1.0
    assert sigmoid_length(0, 1.0, 1e6) == 0.0
    assert sigmoid_length(10**9, 5e-324, 1.0) == 1.0
    for value in (sigmoid_length(0), sigmoid_length(10**7), sigmoid_length(255)):
        assert math.isfinite(value) and 0.0 <= value <= 1.0


def test_length_norm_think_span_counts_only_the_thought():
    reward = harness.get_reward("length_norm", L0=2, span="think")
    assert reward(["<think>a b</think><answer>c d e f g h</answer>"]) == [0.5]
    # A truncated thought (no </think>) counts as no thought.
    assert reward(["<think>a b c d e f"]) == reward([""])
    prefilled = harness.get_reward("length_norm", L0=2, span="think", prefill="<think>")
    assert prefilled(["a b</think><answer>c</answer>"]) == [0.5]


def test_length_norm_gated_pays_only_correct_answers(letters):
    reward = harness.get_reward("length_norm", L0=2, gated=True)
    right, wrong = "<think>x</think> <answer>A</answer>", "<think>x</think> <answer>B</answer>"
    assert reward([right, wrong], **cols(2)) == [0.5, 0.0]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"L0": 0}, "L0 must be a positive finite number"),
        ({"L0": float("inf")}, "L0 must be a positive finite number"),
        ({"alpha": -1}, "alpha must be a positive finite number"),
        ({"alpha": True}, "alpha must be a positive finite number"),
        ({"span": "answer"}, "span must be one of completion, think"),
        ({"gated": "yes"}, "gated must be true or false"),
        ({"tokenizer": "/no/such/tokenizer"}, "does not exist"),
    ],
)
def test_length_norm_bad_params_say_what_is_allowed(params, message):
    with pytest.raises(ConfigError, match=message):
        harness.get_reward("length_norm", **params)


def _char_tokenizer():
    """A tokenizers.Tokenizer that makes one token per character (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, **{c: i + 1 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz<>/ ")}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return tok


def test_length_norm_counts_tokens_of_a_tokenizer_object_or_file(tmp_path):
    tok = _char_tokenizer()
    assert len(tok.encode("abcd").ids) == 4
    by_object = harness.get_reward("length_norm", L0=4, tokenizer=tok)
    assert by_object(["abcd", "ab"]) == [0.5, sigmoid_length(2, 4)]
    tok.save(str(tmp_path / "tokenizer.json"))
    by_path = harness.get_reward("length_norm", L0=4, tokenizer=tmp_path / "tokenizer.json")
    assert by_path(["abcd", "ab"]) == by_object(["abcd", "ab"])


@pytest.mark.slow
def test_length_norm_loads_a_transformers_tokenizer_directory(tmp_path):
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=_char_tokenizer(), unk_token="[UNK]").save_pretrained(tmp_path)
    reward = harness.get_reward("length_norm", L0=4, tokenizer=str(tmp_path))
    assert reward(["abcd", "abcdefgh"]) == [0.5, sigmoid_length(8, 4)]


# -- TRL's calling convention ----------------------------------------------------------------


def test_trl_style_call_gives_the_same_numbers_as_a_direct_call(letters):
    texts = [GOOD, "<answer>B</answer>", "<think>a b c</think><answer>A</answer> extra", ""]
    conversational = [[{"role": "assistant", "content": t}] for t in texts]
    prompts = [[{"role": "user", "content": [{"type": "text", "text": "Which?"}]}]] * 4
    extra = {
        "prompts": prompts,
        "completion_ids": [[1, 2, 3]] * 4,
        "trainer_state": object(),
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: None,
        "image": [None] * 4,
    }
    for name, params in [("accuracy", {}), ("format", {}), ("length_norm", {"L0": 3, "gated": True})]:
        reward = harness.get_reward(name, **params)
        direct = reward(texts, **cols(4))
        via_trl = reward(completions=conversational, **cols(4), **extra)
        assert direct == via_trl, name


@pytest.mark.slow
def test_rewards_run_inside_trls_own_reward_loop(letters):
    trl = pytest.importorskip("trl")
    from types import SimpleNamespace

    import torch
    from accelerate import Accelerator
    from transformers import TrainerState
    from trl.trainer.utils import get_callable_name

    total = harness.reward_from_spec("accuracy:1,format:1,length_norm(L0=3):0.5")
    texts = [GOOD, "<answer>B</answer>", "<think>a b c</think><answer>A</answer>"]
    columns = cols(3)
    inputs = [{"prompt": [], **{k: v[i] for k, v in columns.items()}} for i in range(3)]
    fake_trainer = SimpleNamespace(
        accelerator=Accelerator(cpu=True),
        reward_funcs=total.funcs,
        reward_processing_classes=[None] * 3,
        reward_func_names=[get_callable_name(f) for f in total.funcs],
        state=TrainerState(),
        args=SimpleNamespace(report_to=[]),
        environments=None,
        _log_completion_extra=lambda column, values: None,
        _log_metric=lambda name, value: None,
    )
    assert fake_trainer.reward_func_names == ["accuracy", "format", "length_norm"]
    conversational = [[{"role": "assistant", "content": t}] for t in texts]
    per_func = trl.GRPOTrainer._calculate_rewards(
        fake_trainer, inputs, [[{"role": "user", "content": "q"}]] * 3, conversational, [[1]] * 3
    )
    details = total.score_details(texts, **columns)
    for column, name in enumerate(("accuracy", "format", "length_norm")):
        assert per_func[:, column].tolist() == pytest.approx(details[name], abs=1e-6), name
    weighted = (per_func * torch.tensor(total.weights)).sum(dim=1).tolist()
    assert weighted == pytest.approx(total(texts, **columns), abs=1e-6)
