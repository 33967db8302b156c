"""Parse a rule's ``when`` condition into the tree of :mod:`detector._rule_tree`.

A condition is read by an inspection team, edited by hand, and runs inside the
scoring API, so it must never be Python that can do anything. It is parsed with
:mod:`ast` and rebuilt node by node into our own tree; anything outside the
grammar is refused with a :class:`RuleError` naming the rule, the offending
piece and its column.

Grammar::

    condition  := condition "or" condition | condition "and" condition
                | "not" condition | "(" condition ")"
                | operand CMP operand [CMP operand ...]      (chained: 1 <= x < 5)
                | NAME ["not"] "in" "[" constant, ... "]"    (or a tuple)
                | "is_missing(" NAME ")" | "is_known(" NAME ")"
                | NAME                                      (shorthand for NAME == True)
    operand    := NAME | constant                           (at least one NAME per comparison)
    constant   := number | -number | 'text' | True | False
    CMP        := == | != | < | <= | > | >=

Comparisons with ``None`` are refused: a comparison with a missing value is
always False (see :mod:`detector._rule_tree`), so ``x == None`` would never fire;
``is_missing(x)`` says what was meant.
"""

from __future__ import annotations

import ast
from typing import NoReturn

from detector._rule_tree import (
    BoolOp,
    CompareConst,
    CompareNames,
    Expression,
    InList,
    Missing,
    Node,
    Not,
    RuleError,
)

__all__ = ["parse_expression"]

_AST_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_FUNCTIONS = ("is_missing", "is_known")


_ALLOWED = "names, constants, comparisons, in [...], and/or/not, is_missing(x), is_known(x)"


def _describe(node: ast.AST) -> str:
    """What a refused piece of syntax is, in the words an editor of rules would use."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else ast.unparse(func)
        return f"function call {name}()"
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}'"
    if isinstance(node, ast.Subscript):
        return "subscript '[...]'"
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return "arithmetic"
    if isinstance(node, ast.Lambda):
        return "lambda"
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return "comprehension"
    if isinstance(node, ast.IfExp):
        return "conditional expression 'x if c else y'"
    if isinstance(node, ast.NamedExpr):
        return "assignment ':='"
    if isinstance(node, ast.JoinedStr):
        return "f-string"
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
        return f"{type(node).__name__.lower()} literal outside 'in [...]'"
    if isinstance(node, ast.Name):
        return f"feature name {node.id!r} where a constant is expected"
    if isinstance(node, ast.Constant):
        return f"constant {node.value!r} where a condition is expected"
    return f"{type(node).__name__} expression"


class _Parser:
    def __init__(self, text: str, rule_id: str) -> None:
        self.text = text  # one line: parse_expression joins the lines of a YAML block
        self.rule_id = rule_id

    def where(self, node: ast.AST) -> str:
        # ast columns count UTF-8 bytes; editors count characters (Vietnamese text!)
        byte_col = getattr(node, "col_offset", 0)
        return f"column {len(self.text.encode('utf-8')[:byte_col].decode('utf-8', 'ignore')) + 1}"

    def fail(self, node: ast.AST, what: str, hint: str = "") -> NoReturn:
        segment = ast.get_source_segment(self.text, node) or ""
        hint = hint or f"allowed: {_ALLOWED}"
        raise RuleError(
            f"rule {self.rule_id}: {what} is not allowed in 'when' "
            f"(at {self.where(node)}: {segment!r}); {hint}"
        )

    def condition(self, node: ast.AST) -> Node:
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(op, tuple(self.condition(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Not(self.condition(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            return CompareConst(self.name(node), "==", True)
        self.fail(node, _describe(node))

    def name(self, node: ast.Name) -> str:
        if node.id.startswith("__"):
            self.fail(node, f"dunder name {node.id!r}")
        if node.id in _FUNCTIONS:
            self.fail(node, f"{node.id} without arguments", f"write {node.id}(feature_name)")
        return node.id

    def constant(self, node: ast.AST) -> object:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            if not (isinstance(node.operand, ast.Constant) and _is_number(node.operand.value)):
                self.fail(node, "arithmetic")
            node = node.operand
        if not isinstance(node, ast.Constant):
            self.fail(node, _describe(node))
        value = node.value
        if value is None:
            self.fail(
                node, "comparison with None", "it is never true; use is_missing(x) or is_known(x)"
            )
        if not (isinstance(value, str) or _is_number(value)):
            self.fail(node, f"constant {value!r} of type {type(value).__name__}")
        return sign * value if sign == -1 else value  # type: ignore[operator]

    def operand(self, node: ast.AST) -> tuple[str, object]:
        if isinstance(node, ast.Name):
            return "name", self.name(node)
        return "const", self.constant(node)

    def compare(self, node: ast.Compare) -> Node:
        ops = node.ops
        if any(isinstance(o, ast.In | ast.NotIn) for o in ops):
            if len(ops) > 1:
                self.fail(node, "chained 'in'", "write separate conditions joined with 'and'")
            return self.membership(node)
        for o in ops:
            if isinstance(o, ast.Is | ast.IsNot):
                self.fail(node, "'is' comparison", "use is_missing(x) or is_known(x)")
        operands = [self.operand(n) for n in (node.left, *node.comparators)]
        parts: list[Node] = []
        for (kind_a, a), op_node, (kind_b, b) in zip(operands, ops, operands[1:], strict=False):
            op = _AST_OPS[type(op_node)]
            if kind_a == "name" and kind_b == "name":
                parts.append(CompareNames(str(a), op, str(b)))
            elif kind_a == "name":
                parts.append(CompareConst(str(a), op, b))
            elif kind_b == "name":
                parts.append(CompareConst(str(b), _FLIP[op], a))
            else:
                self.fail(node, "comparison of two constants", "compare a feature name")
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def membership(self, node: ast.Compare) -> Node:
        negate = isinstance(node.ops[0], ast.NotIn)
        if not isinstance(node.left, ast.Name):
            self.fail(node.left, "'in' after something other than a feature name")
        items = node.comparators[0]
        if not isinstance(items, ast.List | ast.Tuple):
            self.fail(items, f"{_describe(items)} after 'in'", "write a list: x in ['a', 'b']")
        if not items.elts:
            self.fail(items, "an empty list after 'in'", "it would never match")
        return InList(self.name(node.left), tuple(self.constant(e) for e in items.elts), negate)

    def call(self, node: ast.Call) -> Node:
        func = node.func
        if not (isinstance(func, ast.Name) and func.id in _FUNCTIONS):
            self.fail(node, _describe(node))
        if node.keywords or len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
            self.fail(node, f"{func.id}() with other than one feature name")
        return Missing(self.name(node.args[0]), known=func.id == "is_known")


def _is_number(value: object) -> bool:
    return isinstance(value, bool | int | float) and not (
        isinstance(value, float) and value != value
    )


def parse_expression(text: str, rule_id: str = "?") -> Expression:
    """Parse and check a rule's ``when`` condition.

    Parameters
    ----------
    text : the condition, in the grammar of this module's docstring
    rule_id : the rule it belongs to, named in every error

    Returns
    -------
    Expression : the checked condition, ready to evaluate on a frame or one dossier

    Raises
    ------
    RuleError
        For a syntax error or any construct outside the grammar, with its column.
    """
    if not isinstance(text, str) or not text.strip():
        raise RuleError(f"rule {rule_id}: 'when' must be a non-empty condition, found {text!r}")
    # a YAML block (`when: |`) may span lines; a condition is one logical line
    line = " ".join(part.strip() for part in text.strip().splitlines())
    try:
        tree = ast.parse(line, mode="eval")
    except SyntaxError as exc:
        where = f"column {exc.offset}" if exc.offset else "the end"
        raise RuleError(
            f"rule {rule_id}: 'when' is not a valid condition ({exc.msg} at {where}): {line!r}"
        ) from exc
    root = _Parser(line, rule_id).condition(tree.body)
    return Expression(text=text, root=root, names=tuple(dict.fromkeys(root.names())))
