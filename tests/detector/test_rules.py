"""The rule engine: condition language, RuleSet estimator, rule files, backtests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from detector._rule_expr import parse_expression
from detector.rules import (
    Hit,
    Rule,
    RuleError,
    RuleSet,
    backtest,
    compare_backtests,
    format_backtest,
    load_rules,
    noisy_or,
    parse_rules,
)
from features.errors import DetectorError

EXAMPLE = Path(__file__).with_name("rules_example.yaml")


def both(when: str, frame: pd.DataFrame) -> list[bool]:
    """Evaluate ``when`` vectorised and row by row; they must agree, and the answer is returned."""
    expr = parse_expression(when, "T")
    vec = expr.evaluate_frame(frame).tolist()
    one = [expr.evaluate_one(row) for row in frame.to_dict("records")]
    assert vec == one, f"vectorised {vec} != scalar {one} for {when!r}"
    return vec


def rule(rid: str, when: str, weight: float = 0.5, proxy_type: str = "identity_misuse", **kw):
    return Rule(rid, proxy_type, weight, when, f"mô tả {rid}", f"description {rid}", **kw)


# --- the condition language -------------------------------------------------------------

# the last row is missing in x and s: no comparison may fire on it
OPS = pd.DataFrame(
    {
        "x": [1.0, 2.0, 3.0, np.nan],
        "y": [1, 5, 3, 3],
        "s": ["a", "b", "c", None],
        "flag": [True, False, True, False],
    }
)
T, F = True, False


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("x == 2", [F, T, F, F]),
        ("x != 2", [T, F, T, F]),  # != on a missing value is False too
        ("x < 2", [T, F, F, F]),
        ("x <= 2", [T, T, F, F]),
        ("x > 2", [F, F, T, F]),
        ("x >= 2", [F, T, T, F]),
        ("2 < x", [F, F, T, F]),  # constant on the left is flipped, not misread
        ("x > -1.5", [T, T, T, F]),
        ("s == 'b'", [F, T, F, F]),
        ("s != 'b'", [T, F, T, F]),
        ("s < 'b'", [T, F, F, F]),
        ("s >= 'b'", [F, T, T, F]),
        ("x == y", [T, F, T, F]),  # two features
        ("x < y", [F, T, F, F]),
        ("x >= 2 and s != 'c'", [F, T, F, F]),
        ("x == 1 or s == 'c'", [T, F, T, F]),
        ("not x == 2", [T, F, T, T]),  # the missing row: not False
        ("(x == 1 or x == 3) and s == 'c'", [F, F, T, F]),
        ("flag", [T, F, T, F]),  # a bare name means == True
        ("not flag and x > 1", [F, T, F, F]),
        ("x == 'a'", [F, F, F, F]),  # a number is never equal to text...
        ("x != 'a'", [T, T, T, F]),  # ...always different from it...
        ("s > 1", [F, F, F, F]),  # ...and never ordered against it (Python would raise)
    ],
)
def test_every_operator(when: str, expected: list[bool]) -> None:
    assert both(when, OPS) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("1 < x <= 3", [F, T, T, F]),
        ("3 > x > 1", [F, T, F, F]),
        ("1 <= x < y", [F, T, F, F]),  # 1<=x: T T T F; x<y: F T F F
        ("'a' < s < 'c'", [F, T, F, F]),
    ],
)
def test_chained_comparisons(when: str, expected: list[bool]) -> None:
    assert both(when, OPS) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("s in ['a', 'c']", [T, F, T, F]),
        ("s not in ['a', 'c']", [F, T, F, F]),  # a missing s is not "not in" either
        ("not (s in ['a', 'c'])", [F, T, F, T]),  # ...but not(in) is True on it
        ("x in [1, 3.0]", [T, F, T, F]),
        ("x in ('2', 2)", [F, T, F, F]),  # a tuple, mixed kinds: only the number 2 matches
        ("y in [5, -1]", [F, T, F, F]),
    ],
)
def test_in_lists(when: str, expected: list[bool]) -> None:
    assert both(when, OPS) == expected


MISSING_COLUMNS = {
    "float NaN": (pd.Series([5.0, np.nan]), 5),
    "Int64 NA": (pd.Series([5, None], dtype="Int64"), 5),
    "object None": (pd.Series([5, None], dtype=object), 5),
    "object pd.NA": (pd.Series([5, pd.NA], dtype=object), 5),
    "object NaN": (pd.Series([5, np.nan], dtype=object), 5),
    "str NaN": (pd.Series(["5", None]), "5"),  # pandas 3 default: str dtype, missing = NaN
    "string pd.NA": (pd.Series(["5", None], dtype="string"), "5"),
    "object str None": (pd.Series(["5", None], dtype=object), "5"),
    "object str pd.NA": (pd.Series(["5", pd.NA], dtype=object), "5"),
    "datetime NaT": (pd.Series([pd.Timestamp("2025-03-14"), pd.NaT]), None),
}


@pytest.mark.parametrize("case", MISSING_COLUMNS, ids=list(MISSING_COLUMNS))
def test_missing_values_never_fire_a_comparison(case: str) -> None:
    column, c = MISSING_COLUMNS[case]
    frame = pd.DataFrame({"x": column})
    if case == "str NaN":
        assert frame["x"].dtype == "str"  # the test really covers pandas 3's string dtype
    # row 0 is known, row 1 is missing
    assert both("is_missing(x)", frame) == [F, T]
    assert both("is_known(x)", frame) == [T, F]
    assert both("x != 7", frame) == [T, F]  # known 5 (or '5', or a date) differs from 7
    assert both("not (x != 7)", frame) == [F, T]  # two-valued logic: not False is True
    if c is None:
        return
    c = repr(c)
    for when in (f"x == {c}", f"x <= {c}", f"x >= {c}", f"x in [{c}]"):
        assert both(when, frame) == [T, F], when
    for when in (f"x != {c}", f"x < {c}", f"x > {c}", f"x not in [{c}]"):
        assert both(when, frame) == [F, F], when
    # the documented trap: negating a comparison makes it fire on missing data
    assert both(f"not (x > {c})", frame) == [T, T]
    assert both(f"is_known(x) and not (x > {c})", frame) == [T, F]


def test_a_key_absent_from_a_dossier_is_missing() -> None:
    for when, expected in [("x > 3", F), ("x != 3", F), ("not x > 3", T), ("is_missing(x)", T)]:
        assert parse_expression(when).evaluate_one({}) is expected, when
        assert parse_expression(when).evaluate_one({"x": None}) is expected, when


def random_frame(n: int = 500, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def holes(values: np.ndarray, missing: object, share: float = 0.2) -> list[object]:
        return [missing if rng.random() < share else v for v in values]

    floats = rng.integers(0, 10, n).astype(float)
    floats[rng.random(n) < 0.2] = np.nan
    mixed_pool = np.array([1, 2.5, "a", "b", 3, None, pd.NA, np.nan, True], dtype=object)
    return pd.DataFrame(
        {
            "f": floats,
            "i": pd.array(holes(rng.integers(0, 6, n), None), dtype="Int64"),
            "s": pd.Series(holes(rng.choice(["a", "b", "c", "none_known"], n), None)),
            "o": pd.Series(holes(rng.choice(["a", "x", "zz"], n), pd.NA), dtype=object),
            "m": pd.Series(rng.choice(mixed_pool, n), dtype=object),  # kinds mixed in one column
            "b": rng.random(n) < 0.5,
            "bo": pd.Series(holes(rng.random(n) < 0.5, None), dtype=object),
            # category features (holder_relation, channel, ...): compared as their categories
            "c": pd.Series(holes(rng.choice(["a", "b", "none_known"], n), None), dtype="category"),
            "cn": pd.Series(holes(rng.integers(0, 4, n), None), dtype="category"),
        }
    )


RANDOM_CONDITIONS = [
    "f >= 5 and s == 'a'",
    "not (f > 3) or i in [1, 2, 3]",
    "s not in ['a', 'b'] and is_known(f)",
    "1 <= i < 5 or o == 'x'",
    "m > 2",
    "m == 'a' or m != 2",
    "f < i",
    "i == f",
    "s < o",
    "m in [1, 'a', 2.5]",
    "m not in ['b', 3]",
    "b and not bo",
    "bo or is_missing(o)",
    "not (s >= 'b' and f <= 7) and is_known(m)",
    "f != 2.0 and o != 'zz'",
    "c == 'a' or c > 'b'",
    "c not in ['a', 'none_known'] and cn >= 2",
    "c != s or cn == 1",
    "c == 2 or cn == 'a' or is_missing(c)",
]


@pytest.mark.parametrize("when", RANDOM_CONDITIONS)
def test_vectorised_equals_scalar_on_a_random_frame(when: str) -> None:
    frame = random_frame()
    result = both(when, frame)
    assert 0 < sum(result) < len(result)  # the condition really separates rows


missing_or_value = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NA),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False),
    st.booleans(),
    st.sampled_from(["a", "b", ""]),
)


@settings(max_examples=150, deadline=None)
@given(
    left=st.lists(missing_or_value, min_size=1, max_size=20),
    right=st.lists(missing_or_value, min_size=20, max_size=20),
    when=st.sampled_from(["x > 0", "x == 'a'", "x != y", "x <= y", "x in [1, 'b']", "x"]),
    as_str=st.booleans(),
)
def test_vectorised_equals_scalar_on_any_values(
    left: list[object], right: list[object], when: str, as_str: bool
) -> None:
    x = pd.Series(left, dtype=object)
    if as_str:  # the same values as pandas 3's str dtype
        x = x.map(lambda v: v if pd.isna(v) else str(v)).astype("str")
    both(when, pd.DataFrame({"x": x, "y": pd.Series(right[: len(left)], dtype=object)}))


@pytest.mark.parametrize(
    ("when", "match"),
    [
        ("len(x) > 1", r"function call len\(\)"),
        ("__import__('os')", r"function call __import__\(\)"),
        ("x.real > 1", r"attribute access '\.real'"),
        ("x.__class__ == 1", r"attribute access '\.__class__'"),
        ("x[0] > 1", r"subscript"),
        ("x + 1 > 2", r"arithmetic .*'x \+ 1'"),
        ("-x > 2", r"arithmetic"),
        ("x * 2", r"arithmetic"),
        ("lambda: 1", r"lambda"),
        ("[y for y in z]", r"comprehension"),
        ("(y for y in z)", r"comprehension"),
        ("x if y else z", r"conditional expression"),
        ("(y := 3)", r"assignment ':='"),
        ("__builtins__ == 1", r"dunder name '__builtins__'"),
        ("x is None", r"'is' comparison.*is_missing"),
        ("x == None", r"comparison with None.*is_missing"),
        ("x in y", r"after 'in'"),
        ("x in []", r"empty list"),
        ("x in [y]", r"feature name 'y' where a constant is expected"),
        ("x in {1, 2}", r"set literal"),
        ("x in [1] in [1]", r"chained 'in'"),
        ("'a' in x", r"'in' after something other than a feature name"),
        ("1 < 2", r"comparison of two constants"),
        ("True", r"constant True where a condition is expected"),
        ("{'a': 1}", r"dict literal"),
        ("x == b'a'", r"constant b'a' of type bytes"),
        ("x == 1j", r"of type complex"),
        ("f'{x}' == 'a'", r"f-string"),
        ("is_missing(x, y)", r"is_missing\(\) with other than one feature name"),
        ("is_known", r"is_known without arguments"),
        ("x > 1 and", r"not a valid condition \(invalid syntax at the end\)"),
        ("x = 1", r"not a valid condition"),
        ("  ", r"must be a non-empty condition"),
    ],
)
def test_forbidden_constructs_are_refused(when: str, match: str) -> None:
    with pytest.raises(RuleError, match=r"^rule R7: .*" + match):
        parse_expression(when, "R7")


def test_refusal_names_the_piece_and_its_column_in_characters() -> None:
    # 'Đức' is 3 characters but 5 UTF-8 bytes: the column must count characters (18, not 20)
    with pytest.raises(RuleError, match=r"at column 18: 'x \+ 1'"):
        parse_expression("ten == 'Đức' and x + 1 > 2", "R7")
    assert issubclass(RuleError, DetectorError)


def test_a_yaml_block_may_span_lines() -> None:
    expr = parse_expression("a > 1\nand b == 'x'\n", "R7")
    assert expr.names == ("a", "b")
    assert expr.evaluate_one({"a": 2, "b": "x"}) is True


# --- RuleSet ----------------------------------------------------------------------------

EXAMPLE_FRAME = pd.DataFrame(
    {
        "acct_new_unrelated_owners_30d": [7, 7, 0, 0, np.nan],
        "holder_relation": ["none_known", "none_known", None, "self", None],
        "owner_deceased": [True, True, False, False, False],
        "declared_relation": ["other", "relative", "self", "self", None],
        "device_kind": ["office_desk", "home", "community_hall", "office_desk", None],
        "holder_is_staff": [False, False, False, np.nan, True],
        "minutes_to_accept": [4.0, 30.0, np.nan, 9.5, 2.0],
    },
    index=pd.Index(["d0", "d1", "d2", "d3", "d4"], name="dossier_id"),
)


@pytest.fixture
def fitted() -> RuleSet:
    return RuleSet(path=EXAMPLE).fit(EXAMPLE_FRAME)


def test_transform_has_one_bool_column_per_enabled_rule(fitted: RuleSet) -> None:
    hits = fitted.transform(EXAMPLE_FRAME)
    assert list(hits.columns) == ["R101", "R102", "R201", "R301"]  # R901 is disabled
    assert all(pd.api.types.is_bool_dtype(t) for t in hits.dtypes)
    assert hits.index.equals(EXAMPLE_FRAME.index)
    # d0: 7 unrelated owners + none_known (R101); deceased owner, declared 'other' (R102);
    #     office desk, not staff, accepted in 4 minutes (R201)
    # d1: R101; deceased but declared 'relative', so not R102; home device
    # d2: community hall device (R301)
    # d3: office desk in 9.5 min, holder_is_staff unknown: `not holder_is_staff` is True (R201)
    # d4: nothing known but staff and minutes: nothing fires
    assert hits.to_dict("index") == {
        "d0": {"R101": T, "R102": T, "R201": T, "R301": F},
        "d1": {"R101": T, "R102": F, "R201": F, "R301": F},
        "d2": {"R101": F, "R102": F, "R201": F, "R301": T},
        "d3": {"R101": F, "R102": F, "R201": T, "R301": F},
        "d4": {"R101": F, "R102": F, "R201": F, "R301": F},
    }
    assert fitted.hits(EXAMPLE_FRAME).equals(hits)
    assert list(fitted.get_feature_names_out()) == list(hits.columns)
    assert list(fitted.feature_names_in_) == list(EXAMPLE_FRAME.columns)


def test_evaluate_one_orders_by_weight_and_shows_evidence(fitted: RuleSet) -> None:
    dossier = EXAMPLE_FRAME.loc["d0"].to_dict()
    hits = fitted.evaluate_one(dossier)
    # R102 (0.9) before R101 (0.8) before R201 (0.6), whatever the file order
    assert [h.rule_id for h in hits] == ["R102", "R101", "R201"]
    assert hits[1] == Hit(
        rule_id="R101",
        proxy_type="identity_misuse",
        weight=0.8,
        description_vi="Tài khoản đã nộp hồ sơ cho từ 5 người không có quan hệ trong 30 ngày",
        description_en="The account filed for 5 or more unrelated owners within 30 days",
        evidence={"acct_new_unrelated_owners_30d": 7.0, "holder_relation": "none_known"},
    )
    # R102 has no `evidence:`, so it shows the features its condition reads
    assert hits[0].evidence == {"owner_deceased": True, "declared_relation": "other"}
    assert hits[2].evidence == {"device_kind": "office_desk", "minutes_to_accept": 4.0}
    # the scalar path agrees with the vectorised one on every row
    for did, row in fitted.transform(EXAMPLE_FRAME).iterrows():
        fired = {h.rule_id for h in fitted.evaluate_one(EXAMPLE_FRAME.loc[did].to_dict())}
        assert fired == set(row.index[row])


def test_evidence_values_are_plain_python_and_missing_is_none() -> None:
    rs = RuleSet(rules=[rule("A", "is_known(x)", evidence=["x", "y"])])
    rs.fit(pd.DataFrame({"x": [1], "y": [2.0]}))
    (hit,) = rs.evaluate_one({"x": np.int64(3), "y": np.nan})
    assert hit.evidence == {"x": 3, "y": None}
    assert type(hit.evidence["x"]) is int  # JSON-ready for the API


def test_score_is_noisy_or_over_misuse_hits() -> None:
    rs = RuleSet(
        rules=[
            rule("A", "a", 0.5),
            rule("B", "b", 0.5, proxy_type="officer_proxy"),
            rule("C", "c", 0.9, proxy_type="assisted"),  # legitimate: explains, never accuses
            rule("D", "d", 1.0),
        ]
    )
    X = pd.DataFrame(
        {
            "a": [F, T, T, F, T, F],
            "b": [F, F, T, F, T, F],
            "c": [F, F, F, T, T, F],
            "d": [F, F, F, F, F, T],
        }
    )
    rs.fit(X)
    # none: 0; A: 0.5; A+B: 1 - 0.5*0.5 = 0.75; C alone: 0 (assisted is not misuse);
    # A+B+C: still 0.75; D (weight 1): certain
    assert rs.score(X).tolist() == [0.0, 0.5, 0.75, 0.0, 0.75, 1.0]
    assert rs.score(X).name == "rule_score"
    assert [rs.score_one(row) for row in X.to_dict("records")] == rs.score(X).tolist()
    assert noisy_or([0.5, 0.5]) == 0.75
    assert noisy_or([]) == 0.0
    # top type: the heaviest hit, whether misuse or not (C at 0.9 beats A and B)
    assert rs.top_type(X).tolist() == [
        None,
        "identity_misuse",
        "identity_misuse",
        "assisted",
        "assisted",
        "identity_misuse",
    ]


def test_top_type_breaks_ties_by_file_order() -> None:
    rs = RuleSet(rules=[rule("A", "a", 0.5), rule("B", "a", 0.5, proxy_type="officer_proxy")])
    X = pd.DataFrame({"a": [True]})
    assert rs.fit(X).top_type(X).tolist() == ["identity_misuse"]


def test_fit_refuses_features_that_x_lacks(fitted: RuleSet) -> None:
    X = EXAMPLE_FRAME.drop(columns=["minutes_to_accept"]).rename(
        columns={"holder_relation": "holder_relaton"}
    )
    with pytest.raises(RuleError) as info:
        RuleSet(path=EXAMPLE).fit(X)
    message = str(info.value)
    assert "R101: holder_relation (did you mean holder_relaton?)" in message
    assert "R201: minutes_to_accept" in message
    assert "known features: acct_new_unrelated_owners_30d, declared_relation" in message
    assert "R901" not in message  # a disabled rule is not checked


def test_fit_refuses_duplicate_ids_and_both_sources() -> None:
    X = pd.DataFrame({"a": [1]})
    with pytest.raises(RuleError, match="unique, found A more than once"):
        RuleSet(rules=[rule("A", "a > 0"), rule("A", "a < 0")]).fit(X)
    with pytest.raises(RuleError, match="either path or rules, found both"):
        RuleSet(path=EXAMPLE, rules=[rule("A", "a > 0")]).fit(X)
    with pytest.raises(RuleError, match="expected a DataFrame"):
        RuleSet(rules=[rule("A", "a > 0")]).fit(np.ones((2, 1)))


def test_rules_may_be_given_as_mappings() -> None:
    entry = {"id": "A", "proxy_type": "self", "weight": 0.1, "when": "a > 0"}
    entry |= {"description_vi": "vi", "description_en": "en"}
    rs = RuleSet(rules=[entry]).fit(pd.DataFrame({"a": [1, 0]}))
    assert rs.rules_[0].evidence == ("a",)
    assert rs.transform(pd.DataFrame({"a": [1, 0]}))["A"].tolist() == [T, F]


def test_ruleset_is_a_scikit_learn_estimator(fitted: RuleSet) -> None:
    with pytest.raises(NotFittedError):
        RuleSet(path=EXAMPLE).transform(EXAMPLE_FRAME)
    copy = clone(fitted)
    assert copy.get_params() == {"path": EXAMPLE, "rules": None}
    assert not hasattr(copy, "rules_")
    # pickled as part of a saved pipeline, it still evaluates the same
    again = pickle.loads(pickle.dumps(fitted))
    assert again.transform(EXAMPLE_FRAME).equals(fitted.transform(EXAMPLE_FRAME))
    # rules feed a model in one Pipeline
    y = [1, 1, 0, 1, 0]
    model = make_pipeline(RuleSet(path=EXAMPLE), LogisticRegression()).fit(EXAMPLE_FRAME, y)
    assert model.predict(EXAMPLE_FRAME).shape == (5,)
    # ...or sit next to other features in a FeatureUnion, names prefixed by the step
    minutes = FunctionTransformer(
        lambda X: X[["minutes_to_accept"]], feature_names_out=lambda _, names: ["minutes_to_accept"]
    )
    union = FeatureUnion([("rules", RuleSet(path=EXAMPLE)), ("m", minutes)])
    union.set_output(transform="pandas")
    out = union.fit_transform(EXAMPLE_FRAME)
    assert list(out.columns[:2]) == ["rules__R101", "rules__R102"]
    assert out["rules__R301"].tolist() == [F, F, T, F, F]  # only d2 used a community hall device


# --- rule files -------------------------------------------------------------------------

GOOD = """\
version: 1
rules:
  - id: R1
    proxy_type: identity_misuse
    weight: 0.5
    when: "x > 1"
    description_vi: "vi"
    description_en: "en"
"""


def test_load_the_example_file() -> None:
    rules = load_rules(EXAMPLE)
    assert [r.id for r in rules] == ["R101", "R102", "R201", "R301", "R901"]
    assert rules[2].expression.names == ("device_kind", "holder_is_staff", "minutes_to_accept")
    assert rules[4].enabled is False


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version: 1\nrules:\n  - id: R1\n    when: 'x > 1\n", r"not valid YAML at line 5"),
        (GOOD.replace('    when: "x > 1"\n', ""), r"rule R1 \(line 3\): missing when"),
        (
            GOOD.replace("weight: 0.5", "weight: 1.5"),
            r"rule R1 \(line 3\): weight must be a number from 0 to 1, found 1.5",
        ),
        (GOOD + GOOD.split("rules:\n")[1], r"rule R1 \(line 9\): duplicate id, first at line 3"),
        (GOOD.replace("when:", "wehn:"), r"rule R1 \(line 3\): missing when; unknown key wehn"),
        (GOOD.replace("version: 1", "version: 2"), r"version must be 1, found 2"),
        (
            GOOD.replace("identity_misuse", "broker"),
            r"rule R1 \(line 3\): proxy_type must be one of self, family",
        ),
        (GOOD.replace('"x > 1"', '"x + 1 > 2"'), r"rule R1 \(line 3\): arithmetic is not allowed"),
        (GOOD.replace("id: R1", "id: R 1"), r"id must be letters"),
        (GOOD + '    when: "x > 2"\n', r"rule R1 \(line 3\): key when given twice"),
        ("rules: 3\n", r"expected a mapping with 'version: 1' and a 'rules:' list"),
        ("", r"expected a mapping"),
    ],
)
def test_bad_rule_files_give_one_clear_message(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError, match=match) as info:
        load_rules(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)  # one line, for the CLI


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = GOOD.replace("weight: 0.5", "weight: 1.5") + GOOD.split("rules:\n")[1].replace(
        "R1", "R2"
    ).replace('"x > 1"', '"x.y"')
    with pytest.raises(RuleError) as info:
        parse_rules(text, "edit.yaml")
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("edit.yaml: rule R1 (line 3): weight")
    assert info.value.problems[1].startswith("edit.yaml: rule R2 (line 9): attribute access")


def test_an_unreadable_file_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"cannot read rule file .*nowhere\.yaml"):
        load_rules(tmp_path / "nowhere.yaml")


# --- backtests --------------------------------------------------------------------------

# rows 0-4 hit A (x > 0), rows 2, 5, 6, 8 hit B (y > 0); rows 4 and 9 are unlabelled
BT_X = pd.DataFrame({"x": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], "y": [0, 0, 1, 0, 0, 1, 1, 0, 1, 0]})
BT_LABELS = pd.Series(
    [
        *("identity_misuse", "identity_misuse", "officer_proxy", "family", np.nan),
        *("identity_misuse", "officer_proxy", "self", "assisted"),
    ],
    index=range(9),  # row 9 is absent from the labels: unlabelled too
).iloc[::-1]  # shuffled order: alignment is on the index, not the position
BT_RULES = [
    rule("A", "x > 0", 0.7),
    rule("B", "y > 0", 0.6, proxy_type="officer_proxy", enabled=False),
    rule("C", "x > 5", 0.4, proxy_type="authorized"),
]


def test_backtest_counts_and_rates() -> None:
    bt = backtest(BT_RULES, BT_X, BT_LABELS).set_index("rule_id")
    a, b, c = bt.loc["A"], bt.loc["B"], bt.loc["C"]
    # A: 5 hits of 10 rows; 4 labelled (0-3), of which 3 misuse (0, 1, 2) and 2 identity_misuse;
    # identity_misuse rows are 0, 1, 5, and A hits 2 of them; one hit is on a family filing
    assert (a.hits, a.hit_rate, a.labelled_hits) == (5, 0.5, 4)
    assert (a.precision_misuse, a.precision_type, a.recall_type) == (
        0.75,
        0.5,
        pytest.approx(2 / 3),
    )
    assert (a.hits_self, a.hits_family, a.hits_authorized, a.hits_assisted) == (0, 1, 0, 0)
    # B (disabled, still backtested): hits 2, 5, 6, 8, all labelled; misuse 2, 5, 6;
    # officer_proxy rows are 2 and 6, both hit; one hit on an assisted filing
    assert (b.hits, b.labelled_hits, b.enabled) == (4, 4, False)
    assert (b.precision_misuse, b.precision_type, b.recall_type) == (0.75, 0.5, 1.0)
    assert b.hits_assisted == 1
    # C never fires and no row is authorized: rates with a zero denominator are NaN
    assert c.hits == 0 and np.isnan(c.precision_misuse) and np.isnan(c.recall_type)
    assert bt.dtypes["hits"] == "int64" and bt.dtypes["precision_misuse"] == "float64"


def test_backtest_of_a_fitted_ruleset_includes_disabled_rules(fitted: RuleSet) -> None:
    labels = pd.Series(
        ["identity_misuse", "family", "assisted", "officer_proxy", "self"],
        index=EXAMPLE_FRAME.index,
    )
    bt = backtest(fitted, EXAMPLE_FRAME, labels)
    assert bt["rule_id"].tolist() == ["R101", "R102", "R201", "R301", "R901"]
    assert bt.attrs == {"rows": 5, "labelled": 5}
    # R101 hits d0 (misuse) and d1 (family): precision for misuse 1/2
    assert bt.set_index("rule_id").loc["R101", "precision_misuse"] == 0.5
    with pytest.raises(RuleError, match=r"labels must be one of .*found broker"):
        backtest(fitted, EXAMPLE_FRAME, labels.replace("self", "broker"))


def test_compare_backtests_shows_the_effect_of_an_edit() -> None:
    old = backtest(BT_RULES[:2], BT_X, BT_LABELS)
    # A narrowed to rows without y (0, 1, 3, 4), B removed, D added
    new_rules = [rule("A", "x > 0 and y == 0", 0.7), rule("D", "y > 0", 0.6)]
    new = backtest(new_rules, BT_X, BT_LABELS)
    diff = compare_backtests(old, new).set_index("rule_id")
    assert diff["status"].to_dict() == {"A": "edited", "D": "added", "B": "removed"}
    # A now hits 0, 1, 3 (labelled): misuse 2 of 3, was 3 of 4
    assert diff.loc["A", "hits_delta"] == -1
    assert diff.loc["A", "precision_misuse_delta"] == pytest.approx(2 / 3 - 0.75)
    assert diff.loc["A", "when_old"] == "x > 0"
    assert np.isnan(diff.loc["D", "hits_delta"]) and diff.loc["D", "hits_new"] == 4
    same = compare_backtests(old, old)
    assert set(same["status"]) == {"unchanged"} and (same["hits_delta"] == 0).all()


def test_format_backtest_speaks_vietnamese_by_default() -> None:
    bt = backtest(BT_RULES, BT_X, BT_LABELS)
    table = format_backtest(bt)
    headers = [c.header for c in table.columns]
    assert headers[:2] == ["Mã quy tắc", "Loại nộp hộ"]
    assert "Độ chính xác (sai phạm)" in headers
    assert format_backtest(bt, lang="en").columns[0].header == "Rule"
    console = Console(record=True, width=400)
    console.print(table)
    text = console.export_text()
    assert "75.0%" in text and "50.0%" in text and "–" in text  # NaN shown as a dash
    diff = format_backtest(compare_backtests(bt, bt), lang="en")
    assert "Hits (change)" in [c.header for c in diff.columns]
    with pytest.raises(RuleError, match="lang 'vi' or 'en', found 'fr'"):
        format_backtest(bt, lang="fr")


# ----------------------------------------------------------------- compiled for one dossier
@pytest.mark.parametrize(
    "when",
    [
        "x > 1.5",
        "x != 2",
        "x == 2",
        "s == 'a'",
        "s != 'a'",
        "s < 'b'",
        "x >= 1 and s in ['a', 'b']",
        "not (x > 1) or is_missing(s)",
        "x > s",
        "is_known(x) and not s == 'a'",
    ],
)
def test_compiled_conditions_equal_the_tree_on_every_kind_of_value(when: str) -> None:
    import math
    import pickle

    import numpy as np

    from detector._rule_expr import parse_expression

    expr = parse_expression(when)
    values: list[object] = [
        1.0,
        2.0,
        2,
        math.nan,
        None,
        "a",
        "b",
        "",
        np.float64(3.0),
        np.nan,
        True,
        pd.NA,
    ]
    for x in values:
        for s in values:
            row = {"x": x, "s": s}
            assert expr.evaluate_one(row) == expr.root.one(row), (when, x, s)
    assert pickle.loads(pickle.dumps(expr)).evaluate_one({"x": 2.0, "s": "a"}) == expr.root.one(
        {"x": 2.0, "s": "a"}
    )
