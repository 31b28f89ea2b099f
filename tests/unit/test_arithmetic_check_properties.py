"""Properties of the arithmetic verifier's parser and step check, on generated expressions."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from app.routing.answer_check import _evaluate, check_answer
from app.routing.verifiers import verify_arithmetic


@dataclass(frozen=True)
class Node:
    """An expression tree: a leaf number, or an operator over two subtrees."""

    value: int | None = None
    op: str = ""
    left: Node | None = None
    right: Node | None = None

    def render(self) -> str:
        if self.value is not None:
            return str(self.value)
        assert self.left is not None and self.right is not None
        return f"({self.left.render()} {self.op} {self.right.render()})"

    def compute(self) -> float:
        """The reference value, computed from the tree (never by parsing text)."""
        if self.value is not None:
            return float(self.value)
        assert self.left is not None and self.right is not None
        a, b = self.left.compute(), self.right.compute()
        return {"+": a + b, "-": a - b, "*": a * b}[self.op]


leaves = st.integers(min_value=0, max_value=999).map(lambda v: Node(value=v))
trees = st.recursive(
    leaves,
    lambda sub: st.builds(
        lambda op, a, b: Node(op=op, left=a, right=b), st.sampled_from("+-*"), sub, sub
    ),
    max_leaves=6,
)


@given(trees)
def test_the_parser_computes_what_the_expression_means(tree: Node) -> None:
    assert _evaluate(tree.render()) == tree.compute()


@given(trees)
def test_precedence_without_parentheses_follows_arithmetic(tree: Node) -> None:
    flat = tree.render().replace("(", "").replace(")", "")
    terms = [t.strip() for t in flat.replace("-", "+-").split("+") if t.strip()]
    expected = 0.0
    for term in terms:  # a sum of products, each factor a plain number
        product = 1.0
        for factor in term.replace("-", "").split("*"):
            product *= float(factor)
        expected += -product if term.lstrip().startswith("-") else product
    assert _evaluate(flat) == expected


@given(st.text(min_size=1, max_size=40).filter(lambda s: any(c.isalpha() and c != "x" for c in s)))
def test_anything_but_plain_arithmetic_is_refused(text: str) -> None:
    assert _evaluate(text) is None


@given(
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=500),
    st.sampled_from(["+", "*", "-"]),
    st.integers(min_value=2, max_value=50),
)
def test_a_stated_result_off_by_more_than_rounding_is_caught_and_rejected(
    a: int, b: int, op: str, off: int
) -> None:
    right = {"+": a + b, "-": a - b, "*": a * b}[op]
    off += abs(right) // 100  # beyond the 0.6% people round by
    prompt = f"Ann has {a} and {b}. What is the answer?"
    good = f"She works out {a} {op} {b} = {right}.\n#### {right}"
    bad = f"She works out {a} {op} {b} = {right + off}.\n#### {right + off}"
    assert check_answer(good, prompt).equations_wrong == 0
    assert check_answer(bad, prompt).equations_wrong == 1
    assert not verify_arithmetic([{"role": "user", "content": prompt}], bad).accepted
