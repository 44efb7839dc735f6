"""IMAP sequence sets (RFC 9051 §9 `sequence-set`), used for both sequence numbers and UIDs.

    sequence-set    = (seq-number / seq-range) ["," sequence-set]
    seq-range       = seq-number ":" seq-number
    seq-number      = nz-number / "*"

`*` is the largest number in use; it is kept symbolic until `resolve` is given that number.
The saved result `$` (RFC 5182) is represented by `SequenceSet.saved()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# None stands for "*".
Bound = int | None

_NUMBER = r"(?:[1-9][0-9]{0,9}|\*)"
_RANGE = rf"{_NUMBER}(?::{_NUMBER})?"
_SEQUENCE_SET_RE = re.compile(rf"{_RANGE}(?:,{_RANGE})*")

MAX_NUMBER = 2**32 - 1  # nz-number is a 32-bit unsigned value (RFC 9051 §9 `number`)


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A parsed sequence set: ranges of (low, high) where None means `*`."""

    ranges: tuple[tuple[Bound, Bound], ...]
    is_saved: bool = False  # `$`: the result saved by SEARCH RETURN (SAVE), RFC 5182

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """Parse `text`; raise ValueError if it is not a valid sequence-set."""
        if text == "$":
            return cls((), is_saved=True)
        if not _SEQUENCE_SET_RE.fullmatch(text):
            raise ValueError(f"invalid sequence set: {text!r}")
        ranges: list[tuple[Bound, Bound]] = []
        for part in text.split(","):
            low_text, _, high_text = part.partition(":")
            low = _parse_number(low_text)
            high = _parse_number(high_text) if high_text else low
            ranges.append((low, high))
        return cls(tuple(ranges))

    @classmethod
    def saved(cls) -> SequenceSet:
        """The `$` marker of RFC 5182."""
        return cls((), is_saved=True)

    @classmethod
    def of(cls, numbers: Iterable[int]) -> SequenceSet:
        """The compact set holding exactly `numbers` (consecutive runs become ranges)."""
        return cls(tuple(_runs(sorted(set(numbers)))))

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Ranges as (low, high) with low <= high, `*` replaced by `largest`.

        RFC 9051 §9: "a:b" and "b:a" are the same range; `*` on an empty mailbox is
        `largest` = 0, so the caller sees a range containing only 0, which matches nothing.
        """
        resolved = []
        for low, high in self.ranges:
            a = largest if low is None else low
            b = largest if high is None else high
            resolved.append((min(a, b), max(a, b)))
        return resolved

    def contains(self, number: int, largest: int) -> bool:
        """Whether `number` is in the set when `*` is `largest`."""
        return any(low <= number <= high for low, high in self.resolve(largest))

    def select(self, numbers: Iterable[int], largest: int) -> Iterator[int]:
        """The members of `numbers` (ascending) that the set contains."""
        ranges = self.resolve(largest)
        for number in numbers:
            if any(low <= number <= high for low, high in ranges):
                yield number

    def __str__(self) -> str:
        if self.is_saved:
            return "$"
        return ",".join(_format_range(low, high) for low, high in self.ranges)


def _parse_number(text: str) -> Bound:
    if text == "*":
        return None
    number = int(text)
    if number > MAX_NUMBER:
        raise ValueError(f"number out of range: {text}")
    return number


def _format_bound(bound: Bound) -> str:
    return "*" if bound is None else str(bound)


def _format_range(low: Bound, high: Bound) -> str:
    if low == high:
        return _format_bound(low)
    return f"{_format_bound(low)}:{_format_bound(high)}"


def _runs(numbers: list[int]) -> Iterator[tuple[Bound, Bound]]:
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            yield (start, previous)
        start = previous = number
    if start is not None:
        yield (start, previous)
