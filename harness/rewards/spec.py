"""Weighted sums of rewards from one spec string.

A spec lists registered rewards with weights, comma-separated::

    accuracy:1,format:1,length_norm:0.5
    accuracy:1,format(think=false):1,length_norm(L0=128,gated=true):0.5

Each item is ``name[(key=value,...)][:weight]``. The weight defaults to 1 and
may be any finite number (0 keeps a component for logging only; negative
ones are penalties) small enough that the weighted total cannot overflow:
``|weight| <= 3.4e38 / components``, the float32 range training sums in.
A component's value times its weight must stay in that range too
(:func:`harness.rewards.base.reward_values`, the one rule for what a reward may
return, in evaluation and training alike). A spec holds at most
:data:`MAX_COMPONENTS` components and :data:`MAX_SPEC_CHARS` characters. Parameter values are ``true``/``false``, ``none``,
numbers, or text (quote it with ``'…'`` or ``"…"`` if it holds ``,`` ``)``
or spaces at its ends). Parameters may also come as a dict,
``params={"length_norm": {"L0": 128}}``; giving one twice is an error.
Values are parsed by a small scanner, never evaluated.

:func:`reward_from_spec` turns a spec into a :class:`WeightedReward`: calling
it gives the weighted totals; ``.components`` / ``.funcs`` / ``.weights``
give the parts (TRL: ``reward_funcs=r.funcs``, ``reward_weights=r.weights``,
which logs each component under its name); ``.score_details`` gives each
component's list for logs. Training backends and evaluation all build their
rewards here, so they cannot drift apart.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from harness.errors import ConfigError
from harness.rewards.base import FLOAT32_MAX, RewardFunction, checked_completion_texts, reward_values

EXAMPLE = "accuracy:1,format:1,length_norm(L0=128,gated=true):0.5"
FORM = f'expected "name[(key=value,...)][:weight]" items separated by commas, e.g. "{EXAMPLE}"'

# A spec lists distinct registered rewards, so real ones are a handful of items; these caps
# refuse a pasted or generated monster before any work is done on it.
MAX_SPEC_CHARS = 20_000
MAX_COMPONENTS = 256

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class ComponentSpec(NamedTuple):
    """One parsed item of a spec."""

    name: str
    weight: float
    params: dict[str, Any]


class Component(NamedTuple):
    """One built component of a :class:`WeightedReward`."""

    name: str
    weight: float
    reward: Any


def _value(text: str) -> Any:
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class _Scanner:
    """A single left-to-right pass over a spec string (linear time)."""

    def __init__(self, spec: str) -> None:
        self.s, self.i = spec, 0

    def fail(self, expected: str) -> ConfigError:
        near = self.s[self.i : self.i + 20] or "end of spec"
        return ConfigError(
            f"reward spec {_short(self.s)}: at character {self.i} ({near!r}) expected {expected}; {FORM}."
        )

    def ws(self) -> None:
        s, i = self.s, self.i
        while i < len(s) and s[i].isspace():
            i += 1
        self.i = i

    def word(self, chars: frozenset[str]) -> str:
        s, start = self.s, self.i
        i = start
        while i < len(s) and s[i] in chars:
            i += 1
        self.i = i
        return s[start:i]

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def until(self, stops: str) -> str:
        s, start = self.s, self.i
        i = start
        while i < len(s) and s[i] not in stops:
            i += 1
        self.i = i
        return s[start:i]

    def params(self) -> dict[str, Any]:
        """After ``(``: ``key=value`` pairs up to and including ``)``."""
        out: dict[str, Any] = {}
        self.ws()
        if self.peek() == ")":
            self.i += 1
            return out
        while True:
            self.ws()
            key = self.word(_KEY_CHARS)
            if not key:
                raise self.fail("a parameter name")
            if key in out:
                raise self.fail(f"each parameter once (got {key!r} twice)")
            self.ws()
            if self.peek() != "=":
                raise self.fail(f"'=' after parameter {key!r}")
            self.i += 1
            self.ws()
            quote = self.peek()
            if quote in ("'", '"'):
                end = self.s.find(quote, self.i + 1)
                if end < 0:
                    raise self.fail(f"a closing {quote}")
                out[key] = self.s[self.i + 1 : end]
                self.i = end + 1
            else:
                raw = self.until(",)").strip()
                if not raw:
                    raise self.fail(f"a value for parameter {key!r}")
                value = _value(raw)
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
                    raise ConfigError(
                        f"reward spec {_short(self.s)}: parameter {key!r} is a {len(raw.strip().lstrip('+-'))}-digit "
                        "number, beyond any value a reward can use; give a number within float range."
                    )
                out[key] = value
            self.ws()
            c = self.peek()
            if c == ")":
                self.i += 1
                return out
            if c != ",":
                raise self.fail("',' or ')' after a parameter")
            self.i += 1


def parse_reward_spec(spec: str) -> list[ComponentSpec]:
    """Parse ``spec`` into ``(name, weight, params)`` items, in order.

    One left-to-right pass: linear in the spec's length (names already seen
    are a set, not a scan of the items so far).

    :raises ConfigError: a malformed spec, a non-finite weight, a repeated
        component, or a spec longer than :data:`MAX_SPEC_CHARS` characters or
        :data:`MAX_COMPONENTS` components; the message shows where and the
        expected form.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"reward spec {spec!r} is empty; {FORM}.")
    if len(spec) > MAX_SPEC_CHARS:
        raise ConfigError(
            f"reward spec {spec[:60]!r}... is {len(spec)} characters long; at most {MAX_SPEC_CHARS} are "
            "read. A spec lists each registered reward once: shorten it."
        )
    sc = _Scanner(spec)
    items: list[ComponentSpec] = []
    seen: set[str] = set()
    while True:
        sc.ws()
        name = sc.word(_NAME_CHARS)
        if not name:
            raise sc.fail("a reward name")
        sc.ws()
        params: dict[str, Any] = {}
        if sc.peek() == "(":
            sc.i += 1
            params = sc.params()
            sc.ws()
        weight = 1.0
        if sc.peek() == ":":
            sc.i += 1
            at = sc.i
            raw = sc.until(",").strip()
            try:
                weight = float(raw)
            except ValueError:
                sc.i = at
                raise sc.fail(f"a number as the weight of {name!r}") from None
            if not math.isfinite(weight):
                sc.i = at
                raise sc.fail(f"a finite weight for {name!r}")
        if sc.peek() not in ("", ","):
            raise sc.fail(f"',' or ':weight' after {name!r}")
        if name in seen:
            raise ConfigError(
                f"reward spec {_short(spec)}: {name!r} appears twice; list each reward once (sum the weights)."
            )
        if len(items) == MAX_COMPONENTS:
            raise ConfigError(
                f"reward spec {_short(spec)} has more than {MAX_COMPONENTS} components; a spec lists "
                "each registered reward once: shorten it."
            )
        seen.add(name)
        items.append(ComponentSpec(name, weight, params))
        if sc.peek() == "":
            _check_weights(spec, items)
            return items
        sc.i += 1  # the comma


def _check_weights(spec: str, items: Sequence[ComponentSpec]) -> None:
    """A weight so large that even a reward of 1 could overflow the weighted total is refused now,
    not at the first sample (the bound :func:`harness.rewards.base.reward_values` applies to every value)."""
    bound = FLOAT32_MAX / len(items)
    for item in items:
        if abs(item.weight) > bound:
            raise ConfigError(
                f"reward spec {_short(spec)}: the weight {item.weight!r} of {item.name!r} is beyond "
                f"±{bound:.4g}, so the weighted total of its {len(items)} component(s) would overflow "
                "(training sums rewards in float32). Use weights of a sensible size (e.g. 0.1 to 10)."
            )


def _short(spec: str, limit: int = 200) -> str:
    """``repr(spec)``, cut to ``limit`` characters (error messages stay one readable line)."""
    return repr(spec) if len(spec) <= limit else repr(spec[:limit]) + f"... ({len(spec)} characters)"


def format_reward_spec(items: Sequence[ComponentSpec]) -> str:
    """The canonical spec string of parsed items (round-trips through the parser)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "none"
        text = str(v)
        if isinstance(v, str) and (
            not text or _value(text) != v or any(c in text for c in ",()'\"") or text != text.strip()
        ):
            quote = "'" if '"' in text else '"'
            return f"{quote}{text}{quote}"
        return text

    parts = []
    for item in items:
        params = ",".join(f"{k}={value(v)}" for k, v in item.params.items())
        parts.append(f"{item.name}{'(' + params + ')' if params else ''}:{_weight_text(item.weight)}")
    return ",".join(parts)


class RewardSpec:
    """A parsed reward spec: parsed once (where a config is checked), then passed around as this object.

    ``str(spec)`` is the canonical text (what config files, ``results.json``
    and the OpenRLHF job record); :func:`reward_from_spec` builds from the
    object without parsing again. Pydantic fields typed ``RewardSpec`` accept
    the text and serialize back to it.
    """

    __slots__ = ("items", "text")

    def __init__(self, items: Sequence[ComponentSpec]) -> None:
        self.items: tuple[ComponentSpec, ...] = tuple(items)
        self.text = format_reward_spec(self.items)

    @classmethod
    def parse(cls, spec: str | RewardSpec) -> RewardSpec:
        """``spec`` parsed (a :class:`RewardSpec` is returned as is); :class:`ConfigError` if malformed."""
        return spec if isinstance(spec, RewardSpec) else cls(parse_reward_spec(spec))

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.items]

    def __contains__(self, name: object) -> bool:
        """Whether the spec has a component named ``name``."""
        return name in self.names

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"RewardSpec({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RewardSpec):
            return self.items == other.items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    @classmethod
    def _validate(cls, value: Any) -> RewardSpec:
        if isinstance(value, RewardSpec):
            return value
        if not isinstance(value, str):
            raise ValueError(f"a reward spec is text such as {EXAMPLE!r}, not {type(value).__name__}")
        try:
            return cls.parse(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "examples": [EXAMPLE]}


def _weight_text(weight: float) -> str:
    """The shortest text that parses back to exactly ``weight`` (``1``, ``0.5``, ``0.1234567``)."""
    text = repr(float(weight))  # repr is the shortest round-tripping form; ":g" keeps 6 digits
    return text[:-2] if text.endswith(".0") else text


def _accepted(factory: Any) -> tuple[set[str], bool]:
    """Keyword names ``factory`` accepts, and whether it takes ``**kwargs``."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


class WeightedReward(RewardFunction):
    """``sum(weight * component(completions, **columns))`` over a spec's components.

    :ivar components: :class:`Component` ``(name, weight, reward)`` in spec order.
    :ivar spec: the canonical spec string.
    """

    name = "weighted_sum"
    description = "Weighted sum of rewards from a spec string."

    def __init__(self, components: Sequence[Component], spec: str) -> None:
        super().__init__()
        self.components = list(components)
        self.spec = spec

    @property
    def funcs(self) -> list[Any]:
        """The component rewards, for TRL's ``reward_funcs``."""
        return [c.reward for c in self.components]

    @property
    def weights(self) -> list[float]:
        """The component weights, for TRL's ``GRPOConfig(reward_weights=...)``."""
        return [c.weight for c in self.components]

    @property
    def names(self) -> list[str]:
        """The component names, in spec order."""
        return [c.name for c in self.components]

    def _details(self, texts: list[str], columns: Mapping[str, Any]) -> dict[str, list[float]]:
        """Each component's values, checked by :func:`harness.rewards.base.reward_values` (the rule
        training applies too): finite numbers whose weighted sum cannot overflow."""
        out: dict[str, list[float]] = {}
        n, k = len(texts), len(self.components)
        for name, weight, reward in self.components:
            out[name] = reward_values(name, reward(texts, **columns), n, weight, k)
        return out

    def score_details(self, completions: Sequence[Any], **columns: Any) -> dict[str, list[float]]:
        """Each component's rewards (unweighted), by component name, in spec order."""
        return self._details(checked_completion_texts(completions), columns)

    def score_with_details(
        self, completions: Sequence[Any], **columns: Any
    ) -> tuple[list[float], dict[str, list[float]]]:
        """``(totals, details)`` from one evaluation of every component."""
        details = self._details(checked_completion_texts(completions), columns)
        return self._total(details, len(completions)), details

    def _total(self, details: Mapping[str, list[float]], n: int) -> list[float]:
        totals = [0.0] * n
        for name, weight, _ in self.components:
            totals = [t + weight * v for t, v in zip(totals, details[name])]
        return totals

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        return self._total(self._details(texts, columns), len(texts))

    def __repr__(self) -> str:
        return f"<reward {self.name} {self.spec}>"


def reward_from_spec(
    spec: str | RewardSpec, params: Mapping[str, Mapping[str, Any]] | None = None, **shared: Any
) -> WeightedReward:
    """The :class:`WeightedReward` a spec string describes.

    :param spec: e.g. ``"accuracy:1,format:1,length_norm(L0=128,gated=true):0.5"``
        (grammar in :mod:`harness.rewards.spec`), or an already parsed
        :class:`RewardSpec` (not parsed again).
    :param params: more parameters per component name, e.g.
        ``{"length_norm": {"tokenizer": tok}}`` (for values a string cannot
        hold).
    :param shared: parameters offered to every component whose factory
        accepts them (e.g. ``template="think"``, ``tokenizer=...``); a
        component's own parameters win.
    :raises ConfigError: malformed spec, a parameter given twice or one the
        reward does not take.
    :raises UnknownNameError: a component that no plugin registered.
    """
    from harness.host.manager import get_host

    parsed = RewardSpec.parse(spec)
    items = parsed.items
    params = dict(params or {})
    names = {item.name for item in items}
    stray = sorted(set(params) - names)
    if stray:
        raise ConfigError(
            f"reward params for {', '.join(map(repr, stray))}, which the spec {str(parsed)!r} does not "
            "list; add them to the spec or drop their params."
        )
    host = get_host()
    components = []
    for item in items:
        factory = host.get("rewards", item.name)
        own = dict(item.params)
        for key, value in (params.get(item.name) or {}).items():
            if key in own:
                raise ConfigError(
                    f"reward {item.name!r}: parameter {key!r} is given in the spec and in params; give it once."
                )
            own[key] = value
        accepted, any_kw = _accepted(factory)
        unknown = sorted(k for k in own if k not in accepted) if not any_kw else []
        if unknown:
            takes = ", ".join(sorted(accepted)) or "no parameters"
            raise ConfigError(f"reward {item.name!r} does not take {', '.join(map(repr, unknown))}; it takes: {takes}.")
        kwargs = {k: v for k, v in shared.items() if any_kw or k in accepted}
        kwargs.update(own)
        components.append(Component(item.name, item.weight, factory(**kwargs)))
    return WeightedReward(components, parsed.text)
