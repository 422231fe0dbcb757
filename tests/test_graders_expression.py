"""calculate_output formulas: the language the graders guide lists, and hostile input refused."""

from __future__ import annotations

import pytest

from ftctl.graders.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, evaluate, parse


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.5 * a + 0.5 * b", 0.5),
        ("(a + b) / 2", 0.5),
        ("a ^ 2 + b", 1.0),
        ("2 ^ 3 ^ 2", 512.0),  # power is right-associative
        ("-2 ^ 2", -4.0),  # unary minus binds looser than power, as in Python
        ("2 ** 3", 8.0),
        ("min(a, b) + max(a, b, 0.25)", 1.0),
        ("abs(b - a)", 1.0),
        ("floor(2.7) + ceil(0.2)", 3.0),
        ("sqrt(16) + log(exp(2))", 6.0),
        ("log(8, 2)", 3.0),
        ("round(0.123456, 2)", 0.12),
        ("clip(a * 3, 0, 1)", 1.0),
        ("a >= 1", 1.0),
        ("(a > b) * 0.7 + (a == b) * 0.3", 0.7),
        ("7 % 4 + 7 // 4", 4.0),
        ("1e-3 * 1000", 1.0),
        ("  a  ", 1.0),
    ],
)
def test_formulas_evaluate_over_sub_grader_rewards(formula: str, expected: float) -> None:
    assert evaluate(formula, {"a": 1.0, "b": 0.0}) == pytest.approx(expected)


def test_parse_reports_the_names_a_formula_reads() -> None:
    assert parse("0.5 * exact + max(judge, sim)").names == {"exact", "judge", "sim"}


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("a.__class__", "unexpected '.'"),
        ("a.real", "unexpected '.'"),
        ("().__class__.__bases__[0]", "unexpected '.'"),
        ("__import__('os').system('true')", 'unexpected "\'"'),
        ("eval(a)", "unknown function 'eval'"),
        ("open(a)", "unknown function 'open'"),
        ("[a]", "unexpected '['"),
        ("a if b else a", "unexpected 'if'"),
        ("lambda: 1", "unexpected ':'"),
        ("a; b", "unexpected ';'"),
        ("min()", "min() takes 1 or more argument(s), got 0"),
        ("abs(a, b)", "abs() takes 1 argument(s), got 2"),
        ("(a + b", "expected ')'"),
        ("a +", "found the end of the formula"),
        ("", "the formula is empty"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nests deeper than"),
        ("-" * 500 + "a", "nests deeper than"),
        ("+".join(["a"] * 600), "operations in a chain"),
        ("a" * (MAX_LENGTH + 1), "longer than"),
    ],
)
def test_hostile_or_malformed_formulas_are_parse_errors(formula: str, message: str) -> None:
    with pytest.raises(
        ExpressionError,
    ) as caught:
        parse(formula)
    assert caught.value.parse_error
    assert message in caught.value.message


@pytest.mark.parametrize(
    "formula", ["2 ^ 10 ^ 10", "10 ** 400", "exp(1000)", "9 ^ 9 ^ 9 ^ 9", "(a + 1) ^ 1e308"]
)
@pytest.mark.timeout(10)  # integer powers this size would run for ever
def test_huge_powers_fail_fast_without_big_integers(formula: str) -> None:
    with pytest.raises(ExpressionError, match=r"math error|gave inf") as caught:
        evaluate(formula, {"a": 1.0})
    assert not caught.value.parse_error


@pytest.mark.parametrize(
    ("formula", "message"),
    [("a / b", "division by zero"), ("sqrt(-1)", "domain"), ("log(b)", "domain")],
)
def test_math_errors_are_evaluation_errors(formula: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as caught:
        evaluate(formula, {"a": 1.0, "b": 0.0})
    assert not caught.value.parse_error


def test_unknown_variables_are_named() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("a + judge", {"a": 1.0})
    assert caught.value.variable == "judge"
    assert not caught.value.parse_error


def test_a_long_but_shallow_formula_is_fine() -> None:
    formula = " + ".join(f"g{i % 3}" for i in range(200))
    assert evaluate(formula, {"g0": 1.0, "g1": 0.0, "g2": 0.5}) == pytest.approx(67 + 66 * 0.5)
