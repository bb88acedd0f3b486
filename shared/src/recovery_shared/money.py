"""Money is integer pence, end to end.

One apportion function splits any sum (instalments, pro-rata attribution of an
arrangement's payment across debts, fee shares) so the parts always add back to
the whole and the same inputs always give the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence

Pence = int


class MoneyError(ValueError):
    """A sum of money that cannot be split as asked."""


def apportion(total: Pence, weights: Sequence[int]) -> list[Pence]:
    """Split ``total`` pence in proportion to ``weights`` (largest remainder method).

    Each part gets the floor of its exact share; the pence left over go one each to
    the parts with the largest fractional remainders, ties to the earlier part. So
    the parts always sum to ``total``, no part differs from its exact share by a
    penny or more, and the result is deterministic.

    Negative totals (reversals) are split as the negation of the positive split, so
    a reversal undoes exactly what the original split did.
    """
    if not weights:
        raise MoneyError("cannot apportion a sum across no parts")
    if any(w < 0 for w in weights):
        raise MoneyError("apportion weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise MoneyError("cannot apportion a non-zero sum across parts that all weigh nothing")
    if total < 0:
        return [-p for p in apportion(-total, weights)]
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    left_over = total - sum(floors)
    # Sorting by (-remainder, index) gives the tie to the earlier part.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left_over]:
        floors[i] += 1
    return floors


def split_evenly(total: Pence, parts: int) -> list[Pence]:
    """Split ``total`` into ``parts`` near-equal amounts, larger ones first.

    This is the usual shape of a Council Tax bill's instalments: the odd pence
    go on the first instalments, so later ones are never larger than earlier ones.
    """
    if parts <= 0:
        raise MoneyError("a sum must be split into at least one part")
    return apportion(total, [1] * parts)


def pounds(amount: Pence) -> str:
    """Format pence as a pounds string for people: 123456 -> '£1,234.56'."""
    sign = "-" if amount < 0 else ""
    whole, pence = divmod(abs(amount), 100)
    return f"{sign}£{whole:,}.{pence:02d}"
