"""The tree a rule's condition compiles to, and its two evaluators.

Each node evaluates over a whole :class:`pandas.DataFrame` (numpy operations per
column, no Python loop per row, except over object columns that mix kinds of
values, which are compared value by value) and over a single dossier's
``Mapping`` (a few microseconds, for the online API). Both give identical
answers; ``tests/detector/test_rules.py`` checks that on a random frame.

Missing values (``None``, ``NaN``, ``pd.NA``, ``NaT``, or a key absent from a
dossier's mapping) make every comparison **False**: ``==``, ``!=``, ``<``, ``in``
and ``not in`` alike. The domain insists that missing data is never evidence,
so a rule does not fire on it. Logic stays two-valued, which means
``not (x > 3)`` is **True** when ``x`` is missing while ``x <= 3`` is False; say
something about missingness explicitly, with ``is_missing(x)`` / ``is_known(x)``.

Values of different kinds compare as in Python, except that where Python
raises (``'abc' > 3``) the comparison is False; ``'abc' == 3`` is False and
``'abc' != 3`` is True.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_complex_dtype,
    is_numeric_dtype,
    is_object_dtype,
)

from features import is_missing
from features.errors import DetectorError

__all__ = [
    "BoolOp",
    "CompareConst",
    "CompareNames",
    "Expression",
    "FrameView",
    "InList",
    "Missing",
    "Node",
    "Not",
    "RuleError",
    "check_features",
]


class RuleError(DetectorError):
    """A rule file, a rule or a rule's condition cannot be used.

    ``problems`` lists every problem found (one line each), so that an editor
    fixes a whole file in one go; the message joins them on one line.
    """

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(a: object, fn: Callable[[Any, Any], Any], b: object) -> bool:
    """Python's comparison, with missing operands and type errors both giving False."""
    if is_missing(a) or is_missing(b):
        return False
    try:
        return bool(fn(a, b))
    except TypeError:
        return False


# --- vectorised view of a frame ---------------------------------------------------------


@dataclass
class _Column:
    kind: str  # "num" (float values, NaN = missing), "str" or "other" (object values)
    values: np.ndarray
    known: np.ndarray


_NUMERIC_INFERRED = {"integer", "floating", "mixed-integer-float", "boolean", "empty"}


class FrameView:
    """A DataFrame's columns as numpy arrays, converted once and shared by all rules."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._cache: dict[str, _Column] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> _Column:
        col = self._cache.get(name)
        if col is None:
            if name not in self.frame.columns:
                raise RuleError(f"feature {name!r} is not a column of the frame being evaluated")
            col = self._cache[name] = _convert(self.frame[name])
        return col


def _convert(s: pd.Series) -> _Column:
    if isinstance(s, pd.DataFrame):
        raise RuleError(f"feature {s.columns[0]!r} names more than one column of the frame")
    known = s.notna().to_numpy(dtype=bool)
    dtype = s.dtype
    if (is_bool_dtype(dtype) or is_numeric_dtype(dtype)) and not is_complex_dtype(dtype):
        kind = "num"
    elif isinstance(dtype, pd.StringDtype):
        kind = "str"
    elif is_object_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        # a category feature (holder_relation, channel, ...) is its categories' kind: text
        # categories compare as text arrays, not value by value (a third of scoring's time)
        inferred = infer_dtype(
            dtype.categories if isinstance(dtype, pd.CategoricalDtype) else s, skipna=True
        )
        kind = (
            "str" if inferred == "string" else "num" if inferred in _NUMERIC_INFERRED else "other"
        )
    else:  # datetimes, ...: compared value by value like the scalar path
        kind = "other"
    if kind == "num":
        if isinstance(dtype, pd.CategoricalDtype):
            s = s.astype(object)
        values = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        values = s.to_numpy(dtype=object, na_value=None)
    return _Column(kind, values, known)


def _kind_of_constant(value: object) -> str:
    return "str" if isinstance(value, str) else "num"


def _mismatch(op: str, known: np.ndarray) -> np.ndarray:
    """Text against a number: never equal, always different, never ordered (as in Python)."""
    return known.copy() if op == "!=" else np.zeros(len(known), dtype=bool)


def _compare_arrays(
    a: np.ndarray, kind_a: str, op: str, b: Any, kind_b: str, known: np.ndarray
) -> np.ndarray:
    fn = _OPS[op]
    if kind_a == "other" or kind_b == "other":
        # kinds mixed within a column: compare value by value, exactly as the scalar path does
        ufunc = np.frompyfunc(lambda x, y: _compare(x, fn, y), 2, 1)
        return np.asarray(ufunc(a, b), dtype=bool) & known
    if kind_a != kind_b:
        return _mismatch(op, known)
    out = np.zeros(len(known), dtype=bool)
    if kind_a == "num":
        with np.errstate(invalid="ignore"):
            out[known] = fn(a, b)[known] if np.ndim(b) else fn(a[known], b)
    else:  # text: object arrays, compared only where known so None never meets a str
        out[known] = fn(a[known], b[known] if np.ndim(b) else b)
    return out


# --- the tree ---------------------------------------------------------------------------


class Node:
    """One piece of a parsed condition."""

    def frame(self, view: FrameView) -> np.ndarray:
        raise NotImplementedError

    def one(self, features: Mapping[str, object]) -> bool:
        raise NotImplementedError

    def names(self) -> Iterator[str]:
        raise NotImplementedError


@dataclass(eq=True)
class CompareConst(Node):
    name: str
    op: str
    value: object
    fn: Callable[[Any, Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.fn = _OPS[self.op]

    def frame(self, view: FrameView) -> np.ndarray:
        col = view.column(self.name)
        kind = _kind_of_constant(self.value)
        return _compare_arrays(col.values, col.kind, self.op, self.value, kind, col.known)

    def one(self, features: Mapping[str, object]) -> bool:
        return _compare(features.get(self.name), self.fn, self.value)

    def names(self) -> Iterator[str]:
        yield self.name

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value!r}"


@dataclass(eq=True)
class CompareNames(Node):
    left: str
    op: str
    right: str
    fn: Callable[[Any, Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.fn = _OPS[self.op]

    def frame(self, view: FrameView) -> np.ndarray:
        a, b = view.column(self.left), view.column(self.right)
        return _compare_arrays(a.values, a.kind, self.op, b.values, b.kind, a.known & b.known)

    def one(self, features: Mapping[str, object]) -> bool:
        return _compare(features.get(self.left), self.fn, features.get(self.right))

    def names(self) -> Iterator[str]:
        yield from (self.left, self.right)

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(eq=True)
class InList(Node):
    name: str
    values: tuple[object, ...]
    negate: bool = False

    def frame(self, view: FrameView) -> np.ndarray:
        col = view.column(self.name)
        found = np.zeros(len(view), dtype=bool)
        for value in self.values:
            kind = _kind_of_constant(value)
            found |= _compare_arrays(col.values, col.kind, "==", value, kind, col.known)
        return col.known & ~found if self.negate else found

    def one(self, features: Mapping[str, object]) -> bool:
        value = features.get(self.name)
        if is_missing(value):
            return False
        found = any(_compare(value, operator.eq, c) for c in self.values)
        return found != self.negate

    def names(self) -> Iterator[str]:
        yield self.name

    def __str__(self) -> str:
        return f"{self.name} {'not in' if self.negate else 'in'} {list(self.values)!r}"


@dataclass(eq=True)
class Missing(Node):
    name: str
    known: bool = False  # True for is_known(name)

    def frame(self, view: FrameView) -> np.ndarray:
        known = view.column(self.name).known
        return known.copy() if self.known else ~known

    def one(self, features: Mapping[str, object]) -> bool:
        return is_missing(features.get(self.name)) != self.known

    def names(self) -> Iterator[str]:
        yield self.name

    def __str__(self) -> str:
        return f"{'is_known' if self.known else 'is_missing'}({self.name})"


@dataclass(eq=True)
class Not(Node):
    child: Node

    def frame(self, view: FrameView) -> np.ndarray:
        return ~self.child.frame(view)

    def one(self, features: Mapping[str, object]) -> bool:
        return not self.child.one(features)

    def names(self) -> Iterator[str]:
        return self.child.names()

    def __str__(self) -> str:
        return f"not ({self.child})"


@dataclass(eq=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    children: tuple[Node, ...]

    def frame(self, view: FrameView) -> np.ndarray:
        reduce = np.logical_and if self.op == "and" else np.logical_or
        return reduce.reduce([c.frame(view) for c in self.children])

    def one(self, features: Mapping[str, object]) -> bool:
        if self.op == "and":
            return all(child.one(features) for child in self.children)
        return any(child.one(features) for child in self.children)

    def names(self) -> Iterator[str]:
        for child in self.children:
            yield from child.names()

    def __str__(self) -> str:
        return f" {self.op} ".join(f"({c})" for c in self.children)


# --- one dossier: the tree compiled to closures ----------------------------------------
Predicate = Callable[[Mapping[str, object]], bool]


def compile_one(node: Node) -> Predicate:
    """The node as one Python closure per node, with the exact semantics of ``node.one``.

    The scoring API evaluates every rule per request; closures skip the method
    dispatch and, for the common case of a float or string value, the generic
    missing-value and type checks (a float NaN compares False by itself,
    except under ``!=``).
    """
    if isinstance(node, CompareConst):
        name, fn, c = node.name, node.fn, node.value
        if node.op != "!=" and type(c) in (float, int):

            def num(m: Mapping[str, object]) -> bool:
                v = m.get(name)
                if type(v) is float:
                    return bool(fn(v, c))
                return _compare(v, fn, c)

            return num
        if type(c) is str:

            def text(m: Mapping[str, object]) -> bool:
                v = m.get(name)
                if type(v) is str:
                    return bool(fn(v, c))
                return _compare(v, fn, c)

            return text
        return node.one
    if isinstance(node, Not):
        child = compile_one(node.child)
        return lambda m: not child(m)
    if isinstance(node, BoolOp):
        parts = tuple(compile_one(c) for c in node.children)
        if node.op == "and":

            def every(m: Mapping[str, object]) -> bool:
                for part in parts:  # noqa: SIM110 - a loop is faster than all() over a generator
                    if not part(m):
                        return False
                return True

            return every

        def some(m: Mapping[str, object]) -> bool:
            for part in parts:  # noqa: SIM110 - a loop is faster than any() over a generator
                if part(m):
                    return True
            return False

        return some
    return node.one


@dataclass(frozen=True)
class Expression:
    """A parsed ``when`` condition with its two evaluators.

    Attributes
    ----------
    text : the condition as written in the rule file
    root : the parsed tree
    names : the feature names it reads, in order of first appearance
    """

    text: str
    root: Node
    names: tuple[str, ...]

    def evaluate_frame(self, X: pd.DataFrame | FrameView) -> np.ndarray:
        """Boolean array, one value per row of ``X`` (pass a FrameView to share conversions)."""
        view = X if isinstance(X, FrameView) else FrameView(X)
        return np.asarray(self.root.frame(view), dtype=bool)

    def evaluate_one(self, features: Mapping[str, object]) -> bool:
        """Whether the condition holds for one dossier; an absent key counts as missing."""
        return self.compiled(features)

    @cached_property
    def compiled(self) -> Predicate:
        """:meth:`evaluate_one` as a closure (built on first use, never pickled)."""
        return compile_one(self.root)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("compiled", None)  # closures do not pickle; rebuilt on first use
        return state

    def __str__(self) -> str:
        return str(self.root)


class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def features(self) -> tuple[str, ...]: ...


def check_features(rules: Iterable[_Named], columns: Iterable[object]) -> None:
    """Refuse rules that read features the frame lacks, naming them and the known ones.

    A close match is suggested, because the usual cause is a typo in the rule file.
    """
    known = sorted(str(c) for c in columns)
    have = set(known)
    parts = []
    for rule in rules:
        names = [n for n in rule.features if n not in have]
        if names:
            guesses = {n: difflib.get_close_matches(n, known, n=1) for n in names}
            shown = [f"{n} (did you mean {g[0]}?)" if g else n for n, g in guesses.items()]
            parts.append(f"{rule.id}: {', '.join(shown)}")
    if parts:
        raise RuleError(
            f"rules read features that are not columns of X: {'; '.join(parts)}; "
            f"known features: {', '.join(known) or '(none)'}"
        )
