"""Plain words for people: counts with the right form of the noun."""

from __future__ import annotations

#: Nouns whose plural is not the noun with an "s".
_IRREGULAR = {"child": "children", "family": "families", "county": "counties", "authority": "authorities"}


def plural(n: float, noun: str, many: str | None = None) -> str:
    """The noun as it reads after the number ``n``: "child" for 1, "children" otherwise."""
    if n == 1:
        return noun
    if many is not None:
        return many
    last = noun.rsplit(" ", 1)[-1]
    return noun[: len(noun) - len(last)] + _IRREGULAR.get(last, last + "s")


def counted(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and the noun: "1 child", "3 children", "1,200 households"."""
    return f"{n:,} {plural(n, noun, many)}"
