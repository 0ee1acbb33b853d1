"""The binary operations of Power et al. 2022: modular arithmetic mod p and three S5 operations.

Each op maps operand arrays to answers and says which pairs are in its domain. Elements of S5
are indexed 0..119 in the lexicographic order of `itertools.permutations(range(5))`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Op:
    """A binary operation on {0..n-1}: `fn(a, b, p)` gives answers; `domain(a, b, p)` masks pairs."""

    name: str
    formula: str
    fn: Callable[[Array, Array, int], Array]
    domain: Callable[[Array, Array, int], Array] | None = None
    needs_prime: bool = False  # divides mod p, so p must be prime
    group: bool = False  # an S5 op: n = 120, p unused


def _inverse_mod(b: Array, p: int) -> Array:
    # Fermat: b^(p-2) is the inverse of b mod prime p (b != 0).
    return np.array([pow(int(x), p - 2, p) for x in b.ravel()], dtype=np.int64).reshape(b.shape)


def _div(a: Array, b: Array, p: int) -> Array:
    return (a * _inverse_mod(b, p)) % p


def _odd_div_sub(a: Array, b: Array, p: int) -> Array:
    # Division needs b != 0; b = 0 is even, so it always takes the subtraction branch.
    safe_b = np.where(b % 2 == 1, b, 1)
    return np.where(b % 2 == 1, _div(a, safe_b, p), (a - b) % p)


@cache
def s5_table() -> tuple[Array, Array]:
    """(composition table [120, 120] with table[x, y] = index of x∘y where (x∘y)(i) = x(y(i)),
    inverse [120])."""
    perms = list(itertools.permutations(range(5)))
    index = {perm: i for i, perm in enumerate(perms)}
    table = np.empty((120, 120), dtype=np.int64)
    for i, x in enumerate(perms):
        for j, y in enumerate(perms):
            table[i, j] = index[tuple(x[y[k]] for k in range(5))]
    inverse = np.array([index[tuple(np.argsort(x))] for x in perms], dtype=np.int64)
    return table, inverse


def _s5_xy(a: Array, b: Array, p: int) -> Array:
    table, _ = s5_table()
    return table[a, b]


def _s5_xyxinv(a: Array, b: Array, p: int) -> Array:
    table, inverse = s5_table()
    return table[table[a, b], inverse[a]]


def _s5_xyx(a: Array, b: Array, p: int) -> Array:
    table, _ = s5_table()
    return table[table[a, b], a]


def _nonzero_b(a: Array, b: Array, p: int) -> Array:
    return b != 0


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op("add", "x+y", lambda a, b, p: (a + b) % p),
        Op("sub", "x-y", lambda a, b, p: (a - b) % p),
        Op("mul", "x*y", lambda a, b, p: (a * b) % p),
        Op("div", "x/y", _div, _nonzero_b, needs_prime=True),
        Op("odd_div_sub", "x/y if y odd else x-y", _odd_div_sub, needs_prime=True),
        Op("x2_y2", "x^2+y^2", lambda a, b, p: (a * a + b * b) % p),
        Op("x2_xy_y2", "x^2+xy+y^2", lambda a, b, p: (a * a + a * b + b * b) % p),
        Op("x2_xy_y2_x", "x^2+xy+y^2+x", lambda a, b, p: (a * a + a * b + b * b + a) % p),
        Op("x3_xy", "x^3+xy", lambda a, b, p: (a * a * a + a * b) % p),
        Op("x3_xy2_y", "x^3+xy^2+y", lambda a, b, p: (a * a * a + a * b * b + b) % p),
        Op("s5_xy", "x.y in S5", _s5_xy, group=True),
        Op("s5_xyxinv", "x.y.x^-1 in S5", _s5_xyxinv, group=True),
        Op("s5_xyx", "x.y.x in S5", _s5_xyx, group=True),
    ]
}


def n_elements(op: Op, p: int) -> int:
    """Size of the operand/answer set."""
    return 120 if op.group else p
