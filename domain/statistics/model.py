"""Dimensions, bands and the k-anonymity rule that decides which counts may be shown.

A group is shown only when it holds at least k customers. Smaller groups are folded into one
remainder, shown only when it reaches k. The responses carry no total, but any dimension
whose groups are all shown gives one away (every dimension counts the same customers). So a
remainder that would be hidden while other groups are shown takes the smallest shown group in
too: a hidden count is then never the difference of numbers someone has seen.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pycountry

from domain.consent.model import SharingPurpose
from domain.partners.model import Partner

DEFAULT_MIN_GROUP_SIZE = 10
# A "group" of one is a person; k must be at least two to mean anything.
SMALLEST_MIN_GROUP_SIZE = 2
NOT_STATED_LABEL = "Not stated"

# What the read model groups by: a stored value as it is, None where the customer gave none.
RawValue = str | int | None


class Dimension(enum.Enum):
    """What customers are grouped by."""

    INDUSTRY = "INDUSTRY"
    COUNTRY = "COUNTRY"
    EMPLOYEE_BAND = "EMPLOYEE_BAND"
    ORGANIZATION_USERS_BAND = "ORGANIZATION_USERS_BAND"


@dataclass(frozen=True, slots=True)
class Band:
    """A range of a number, both bounds included; no ``upper`` bound for the last band."""

    lower: int
    upper: int | None

    @property
    def key(self) -> str:
        return f"{self.lower}+" if self.upper is None else f"{self.lower}-{self.upper}"

    @property
    def label(self) -> str:
        if self.upper is None:
            return f"{self.lower:,} or more"
        return f"{self.lower:,} to {self.upper:,}"

    def holds(self, value: int) -> bool:
        return self.lower <= value and (self.upper is None or value <= self.upper)


def contiguous_bands(*lowers: int) -> tuple[Band, ...]:
    """Bands that start at each of ``lowers`` and end where the next starts; the last is open."""
    uppers: list[int | None] = [lower - 1 for lower in lowers[1:]]
    return tuple(Band(lower, upper) for lower, upper in zip(lowers, [*uppers, None], strict=True))


# The EU's size classes (Recommendation 2003/361/EC: micro under 10, small under 50, medium
# under 250), with large enterprises split at 1,000.
EMPLOYEE_BANDS = contiguous_bands(1, 10, 50, 250, 1_000)
ORGANIZATION_USER_BANDS = contiguous_bands(1, 6, 26, 101, 501)

BANDS: Mapping[Dimension, tuple[Band, ...]] = {
    Dimension.EMPLOYEE_BAND: EMPLOYEE_BANDS,
    Dimension.ORGANIZATION_USERS_BAND: ORGANIZATION_USER_BANDS,
}


@dataclass(frozen=True, slots=True)
class Group:
    """Customers who share a value. ``key`` is None for those who stated none (or a number
    outside every band); ``band`` is set for the band dimensions."""

    key: str | None
    label: str
    count: int
    band: Band | None = None


@dataclass(frozen=True, slots=True)
class AggregateStatistics:
    """What may be shown: the groups of at least ``min_group_size`` customers, and everyone
    else as one ``remainder`` (0 when nobody is left over, None when it must stay hidden)."""

    dimension: Dimension
    min_group_size: int
    groups: tuple[Group, ...]
    remainder: int | None

    @property
    def bands(self) -> tuple[Band, ...]:
        return BANDS.get(self.dimension, ())


def may_read_statistics(partner: Partner) -> bool:
    """Only partners registered for the purpose receive aggregates."""
    return partner.active and SharingPurpose.AGGREGATE_STATISTICS in partner.purposes


def groups_of(dimension: Dimension, counts: Mapping[RawValue, int]) -> list[Group]:
    """The groups of a dimension from counts per stored value, in the order to show them:
    bands in their order, other values from the largest group down; "not stated" last."""
    if dimension in BANDS:
        groups = _banded(BANDS[dimension], counts)
    elif dimension is Dimension.INDUSTRY:
        groups = _industries(counts)
    else:
        groups = _countries(counts)
    if dimension not in BANDS:
        groups.sort(key=lambda g: (g.key is None, -g.count, g.label.casefold(), g.label))
    return groups


def fold(groups: Sequence[Group], min_group_size: int) -> tuple[tuple[Group, ...], int | None]:
    """The groups that may be shown, in their order, and the remainder (see the module's
    docstring): None when it is hidden, 0 when every customer is in a shown group."""
    if min_group_size < SMALLEST_MIN_GROUP_SIZE:
        raise ValueError(f"k must be at least {SMALLEST_MIN_GROUP_SIZE}, not {min_group_size}")
    shown = [g for g in groups if g.count >= min_group_size]
    remainder = sum(g.count for g in groups if 0 < g.count < min_group_size)
    if 0 < remainder < min_group_size and shown:
        # Every shown group holds at least k, so one is enough; of equals, the last shown.
        smallest = min(reversed(shown), key=lambda g: g.count)
        shown.remove(smallest)
        remainder += smallest.count
    return tuple(shown), remainder if remainder == 0 or remainder >= min_group_size else None


def summarise(
    dimension: Dimension, counts: Mapping[RawValue, int], min_group_size: int
) -> AggregateStatistics:
    """Counts per stored value, grouped and folded into what may be shown."""
    shown, remainder = fold(groups_of(dimension, counts), min_group_size)
    return AggregateStatistics(dimension, min_group_size, shown, remainder)


def _banded(bands: Sequence[Band], counts: Mapping[RawValue, int]) -> list[Group]:
    per_band: Counter[Band | None] = Counter()
    for value, count in counts.items():
        number = value if isinstance(value, int) else None
        per_band[next((b for b in bands if number is not None and b.holds(number)), None)] += count
    groups = [Group(b.key, b.label, per_band[b], b) for b in bands if per_band[b]]
    return groups + _not_stated(per_band[None])


def _industries(counts: Mapping[RawValue, int]) -> list[Group]:
    """Industry is free text: one group per value ignoring case and spacing, labelled with its
    most common spelling."""
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    not_stated = 0
    for value, count in counts.items():
        text = " ".join(str(value).split()) if value is not None else ""
        if text:
            spellings[text.casefold()][text] += count
        else:
            not_stated += count
    groups = [
        Group(key, _most_common(spelled), sum(spelled.values()))
        for key, spelled in spellings.items()
    ]
    return groups + _not_stated(not_stated)


def _countries(counts: Mapping[RawValue, int]) -> list[Group]:
    per_code: Counter[str] = Counter()
    not_stated = 0
    for value, count in counts.items():
        code = str(value).strip().upper() if value is not None else ""
        if code:
            per_code[code] += count
        else:
            not_stated += count
    groups = [Group(code, country_name(code), count) for code, count in per_code.items()]
    return groups + _not_stated(not_stated)


def country_name(code: str) -> str:
    """The country's short name for an ISO 3166-1 alpha-2 code, or the code if unknown."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def _most_common(spellings: Counter[str]) -> str:
    # Ties go to the first in sorted order, so the label does not depend on the row order.
    return min(spellings, key=lambda s: (-spellings[s], s))


def _not_stated(count: int) -> list[Group]:
    return [Group(None, NOT_STATED_LABEL, count)] if count else []
