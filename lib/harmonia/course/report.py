"""The "paper vs. this notebook" table every chapter ends with, and how to print a number in it.

Each row is a :class:`Claim`: what the paper (or the theory) states, what the notebook computed,
the tolerance of the comparison, and PASS/FAIL computed from them -- never typed in by hand.
:func:`below` prints a difference that should be at rounding level as a bound (``"< 1e-12"``), so
that a stored output does not depend on the CPU's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Claim", "claims_table", "below", "above"]


@dataclass(frozen=True)
class Claim:
    """One row of the table.

    Parameters
    ----------
    claim : str
        The statement, in a few words.
    paper : str
        The paper's number or statement, with its source (figure, table or section), or the target we
        calibrated on our prototype (or "theory" for a closed form).
    ours : str
        What this notebook computed, formatted with few digits.
    tolerance : str
        How the two are compared (e.g. "rel. 5%", "ordering", "< 1e-10").
    passed : bool
        The computed verdict.
    """

    claim: str
    paper: str
    ours: str
    tolerance: str
    passed: bool

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            raise TypeError(f"passed: expected a bool computed by the notebook, got {type(self.passed).__name__}")


def claims_table(claims: list[Claim]) -> str:
    """A fixed-width text table of claims, one per line, ending with the PASS count."""
    if not claims:
        raise ValueError("claims: expected at least one Claim, got none")
    headers = ("claim", "paper / theory", "this notebook", "tolerance", "verdict")
    rows = [(c.claim, c.paper, c.ours, c.tolerance, "PASS" if c.passed else "FAIL") for c in claims]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    n_pass = sum(c.passed for c in claims)
    lines.append(f"{n_pass} of {len(claims)} claims reproduced.")
    return "\n".join(line.rstrip() for line in lines)


def below(value: float, bound: float, fmt: str = ".0e") -> str:
    """``"< 1e-12"`` when ``value < bound``, else the value itself (``"3.4e-09"``).

    For differences that are exact in theory and at rounding level in practice (two implementations
    of one formula, an identity): their digits change with the CPU's kernels and thread count, so a
    stored notebook prints the bound they satisfy, and the value only when the check fails.

    Parameters
    ----------
    value : float
        The measured difference (NaN counts as failing).
    bound : float > 0
        The tolerance, printed with one significant digit (``fmt``, e.g. ``"g"`` for ``"< 0.15"``).

    Examples
    --------
    >>> below(2.7e-15, 1e-12), below(3.4e-9, 1e-12)
    ('< 1e-12', '3.4e-09')
    """
    if not bound > 0:
        raise ValueError(f"bound: expected a positive tolerance, got {bound!r}")
    value = float(value)
    return f"< {bound:{fmt}}" if value < bound else f"{value:.1e}"


def above(value: float, bound: float) -> str:
    """``"> 0.05"`` when ``value > bound``, else the value itself: the lower-bound twin of :func:`below`,
    for results that vary with the CPU (an optimiser's end point) and are checked against a bound.

    Examples
    --------
    >>> above(0.14, 0.05), above(0.01, 0.05)
    ('> 0.05', '0.01')
    """
    if not bound > 0:
        raise ValueError(f"bound: expected a positive bound, got {bound!r}")
    value = float(value)
    return f"> {bound:g}" if value > bound else f"{value:.2g}"
