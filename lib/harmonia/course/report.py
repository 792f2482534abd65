"""The "paper vs. this notebook" table every chapter ends with.

Each row is a :class:`Claim`: what the paper (or the theory) states, what the notebook computed,
the tolerance of the comparison, and PASS/FAIL computed from them -- never typed in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Claim", "claims_table"]


@dataclass(frozen=True)
class Claim:
    """One row of the table.

    Parameters
    ----------
    claim : str
        The statement, in a few words.
    paper : str
        The paper's number or statement, as the paper card gives it (or "theory" for a closed form).
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
