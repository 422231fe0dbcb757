"""The formula language of a multi grader's `calculate_output`, parsed and evaluated without `eval`.

OpenAI's graders guide lists the operators `+ - * /` and `^` (power) and the functions `min`, `max`,
`abs`, `floor`, `ceil`, `exp`, `sqrt` and `log`; the variables are the names of the sub-graders.
This module also takes `**` for power, `%`, unary minus, comparisons (1.0 when true, 0.0 when false)
and `round`/`clip`, which formulas written for Python tend to use.

Hostile input cannot reach Python: the tokenizer knows only numbers, names, operators, commas and
parentheses (no `.`, so no attribute access), names resolve only to the given variables or the
functions below, and formulas are capped in length and nesting depth. Every value is a float, so a
huge power overflows (an ExpressionError), it never allocates a giant integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

MAX_LENGTH = 4096
MAX_DEPTH = 64  # parentheses, unary signs and calls inside one another
MAX_TREE_DEPTH = 256  # long operator chains too (a+b+c+... nests to the left)


class ExpressionError(ValueError):
    """A formula that cannot be parsed (`parse_error`) or evaluated (unknown name, math error)."""

    def __init__(self, message: str, *, parse_error: bool, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parse_error = parse_error
        self.variable = variable


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _log(value: float, base: float = math.e) -> float:
    return math.log(value, base)


def _round(value: float, digits: float = 0) -> float:
    return float(round(value, int(digits)))


# name -> (function, fewest arguments, most arguments or None for any number)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "min": (min, 1, None),
    "max": (max, 1, None),
    "abs": (abs, 1, 1),
    "floor": (lambda x: float(math.floor(x)), 1, 1),
    "ceil": (lambda x: float(math.ceil(x)), 1, 1),
    "exp": (math.exp, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "log": (_log, 1, 2),
    "round": (_round, 1, 2),
    "clip": (_clip, 3, 3),
}

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>\*\*|//|<=|>=|==|!=|[-+*/%^()<>,])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, op, end
    text: str
    position: int


def _tokenize(formula: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(formula):
        match = _TOKEN_RE.match(formula, position)
        if match is None or match.end() == position:
            if formula[position:].strip() == "":
                break
            where = position + (len(formula[position:]) - len(formula[position:].lstrip()))
            raise ExpressionError(
                f"unexpected {formula[where]!r} at position {where + 1}", parse_error=True
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    tokens.append(_Token("end", "", len(formula)))
    return tokens


# A parsed formula is a small tree of tuples, evaluated by _evaluate.
Node = tuple[object, ...]

_BINARY = {  # operator -> (precedence, right-associative)
    "<": (1, False),
    "<=": (1, False),
    ">": (1, False),
    ">=": (1, False),
    "==": (1, False),
    "!=": (1, False),
    "+": (2, False),
    "-": (2, False),
    "*": (3, False),
    "/": (3, False),
    "//": (3, False),
    "%": (3, False),
    "^": (5, True),
    "**": (5, True),
}
_UNARY_PRECEDENCE = 4  # binds looser than power: -2^2 is -4, as in Python


class _Parser:
    """Precedence climbing over the token list; depth counts every nested sub-expression."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = repr(token.text) if token.kind != "end" else "the end"
            raise ExpressionError(
                f"expected {text!r} at position {token.position + 1}, found {found}",
                parse_error=True,
            )

    def expression(self, min_precedence: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the formula nests deeper than {MAX_DEPTH}", parse_error=True)
        left = self.unary()
        while True:
            token = self.peek()
            if token.kind != "op" or token.text not in _BINARY:
                break
            precedence, right_assoc = _BINARY[token.text]
            if precedence < min_precedence:
                break
            self.take()
            right = self.expression(precedence if right_assoc else precedence + 1)
            left = ("binary", token.text, left, right)
        self.depth -= 1
        return left

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in ("+", "-"):
            self.take()
            return ("unary", token.text, self.expression(_UNARY_PRECEDENCE))
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return ("number", float(token.text))
        if token.kind == "name":
            if self.peek().text == "(":
                return self.call(token)
            return ("name", token.text)
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        found = repr(token.text) if token.kind != "end" else "the end of the formula"
        raise ExpressionError(
            f"expected a number, name or '(' at position {token.position + 1}, found {found}",
            parse_error=True,
        )

    def call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise ExpressionError(
                f"unknown function {name.text!r} (known: {known})", parse_error=True
            )
        self.expect("(")
        arguments: list[Node] = []
        if self.peek().text != ")":
            arguments.append(self.expression())
            while self.peek().text == ",":
                self.take()
                arguments.append(self.expression())
        self.expect(")")
        _, fewest, most = FUNCTIONS[name.text]
        if len(arguments) < fewest or (most is not None and len(arguments) > most):
            wanted = str(fewest) if most == fewest else f"{fewest} or more"
            if most is not None and most != fewest:
                wanted = f"{fewest} to {most}"
            raise ExpressionError(
                f"{name.text}() takes {wanted} argument(s), got {len(arguments)}",
                parse_error=True,
            )
        return ("call", name.text, *arguments)


@dataclass(frozen=True)
class Formula:
    """A parsed `calculate_output`: its text, tree and the variable names it reads."""

    text: str
    tree: Node
    names: frozenset[str]

    def evaluate(self, variables: Mapping[str, float]) -> float:
        value = _evaluate(self.tree, variables)
        if math.isnan(value) or math.isinf(value):
            raise ExpressionError(f"the formula gave {value}", parse_error=False)
        return value


def parse(formula: str) -> Formula:
    """The parsed formula; ExpressionError(parse_error=True) on anything outside the language."""
    if not isinstance(formula, str):
        raise ExpressionError("the formula must be a string", parse_error=True)
    if len(formula) > MAX_LENGTH:
        raise ExpressionError(
            f"the formula is longer than {MAX_LENGTH} characters", parse_error=True
        )
    if not formula.strip():
        raise ExpressionError("the formula is empty", parse_error=True)
    parser = _Parser(_tokenize(formula))
    tree = parser.expression()
    trailing = parser.peek()
    if trailing.kind != "end":
        raise ExpressionError(
            f"unexpected {trailing.text!r} at position {trailing.position + 1}", parse_error=True
        )
    if _tree_depth(tree) > MAX_TREE_DEPTH:
        raise ExpressionError(
            f"the formula has more than {MAX_TREE_DEPTH} operations in a chain", parse_error=True
        )
    return Formula(text=formula, tree=tree, names=frozenset(_names(tree)))


def _tree_depth(tree: Node) -> int:
    """Depth of the tree, walked without recursion (the tree is not yet known to be shallow)."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node[1:] if isinstance(child, tuple))
    return deepest


def _names(node: Node) -> Iterable[str]:
    kind = node[0]
    if kind == "name":
        yield str(node[1])
    elif kind == "unary":
        yield from _names(_child(node, 2))
    elif kind == "binary":
        yield from _names(_child(node, 2))
        yield from _names(_child(node, 3))
    elif kind == "call":
        for argument in node[2:]:
            assert isinstance(argument, tuple)
            yield from _names(argument)


def _child(node: Node, index: int) -> Node:
    child = node[index]
    assert isinstance(child, tuple)
    return child


def evaluate(formula: str, variables: Mapping[str, float]) -> float:
    """Parse and evaluate in one step."""
    return parse(formula).evaluate(variables)


def _evaluate(node: Node, variables: Mapping[str, float]) -> float:
    kind = node[0]
    if kind == "number":
        value = node[1]
        assert isinstance(value, float)
        return value
    if kind == "name":
        name = str(node[1])
        if name not in variables:
            raise ExpressionError(f"unknown variable {name!r}", parse_error=False, variable=name)
        return float(variables[name])
    try:
        if kind == "unary":
            operand = _evaluate(_child(node, 2), variables)
            return -operand if node[1] == "-" else operand
        if kind == "binary":
            left = _evaluate(_child(node, 2), variables)
            right = _evaluate(_child(node, 3), variables)
            return _apply(str(node[1]), left, right)
        if kind == "call":
            function, _, _ = FUNCTIONS[str(node[1])]
            arguments = [_evaluate(_child(node, i), variables) for i in range(2, len(node))]
            return float(function(*arguments))
    except (ArithmeticError, ValueError) as error:
        if isinstance(error, ExpressionError):
            raise
        raise ExpressionError(f"math error: {error}", parse_error=False) from None
    raise AssertionError(f"unknown node {kind!r}")


def _apply(operator: str, left: float, right: float) -> float:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if operator == "/":
        return left / right
    if operator == "//":
        return float(left // right)
    if operator == "%":
        return left % right
    if operator in ("^", "**"):
        return math.pow(left, right)
    comparisons: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    return 1.0 if comparisons[operator](left, right) else 0.0
