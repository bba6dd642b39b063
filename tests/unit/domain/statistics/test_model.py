"""Which counts may be shown: groups of at least k, and a remainder that gives nothing away."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest

from domain.consent.model import SharingPurpose
from domain.partners.model import Partner
from domain.statistics.model import (
    EMPLOYEE_BANDS,
    ORGANIZATION_USER_BANDS,
    Band,
    Dimension,
    Group,
    RawValue,
    fold,
    groups_of,
    may_read_statistics,
    summarise,
)

K = 10


def group(key: str, count: int) -> Group:
    return Group(key, key, count)


def test_a_group_of_k_is_shown_and_one_of_k_minus_one_is_not() -> None:
    shown, _ = fold([group("a", K), group("b", K - 1), group("c", 1)], K)
    assert shown == (group("a", K),)


def test_groups_below_k_are_folded_into_a_remainder_shown_once_it_reaches_k() -> None:
    many = [group("a", 20), group("b", 4), group("c", 3), group("d", 3)]
    assert fold(many, K) == ((group("a", 20),), 10)


def test_a_remainder_below_k_is_hidden_when_nothing_else_is_shown() -> None:
    assert fold([group("a", 4), group("b", 5)], K) == ((), None)


def test_a_small_remainder_takes_the_smallest_shown_group_so_no_total_betrays_it() -> None:
    # Shown 30 and 10 with a hidden remainder of 3: anyone who knows there are 43 customers
    # (from any dimension whose groups are all shown) would subtract and learn the 3.
    shown, remainder = fold([group("a", 30), group("b", 10), group("c", 3)], K)
    assert shown == (group("a", 30),)
    assert remainder == 13


def test_of_equal_groups_the_last_shown_is_folded() -> None:
    shown, remainder = fold([group("a", 12), group("b", 12), group("c", 1)], K)
    assert shown == (group("a", 12),)
    assert remainder == 13


def test_nothing_to_fold_leaves_a_remainder_of_zero() -> None:
    assert fold([group("a", K), group("b", 11)], K) == ((group("a", K), group("b", 11)), 0)
    assert fold([], K) == ((), 0)


@pytest.mark.parametrize("k", [0, 1])
def test_k_below_two_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        fold([group("a", 5)], k)


def test_industries_are_grouped_ignoring_case_and_spacing_under_their_most_common_spelling() -> (
    None
):
    counts: dict[RawValue, int] = {
        "Software": 4,
        " software ": 2,
        "SOFTWARE": 1,
        "Health  care": 1,
        "health care": 1,
        None: 3,
        "   ": 1,
    }
    groups = groups_of(Dimension.INDUSTRY, counts)
    assert groups == [
        Group("software", "Software", 7),
        Group("health care", "Health care", 2),
        Group(None, "Not stated", 4),
    ]


def test_countries_are_labelled_with_their_names_largest_group_first() -> None:
    groups = groups_of(Dimension.COUNTRY, {"GB": 3, "DE": 5, "XX": 1})
    assert [(g.key, g.label, g.count) for g in groups] == [
        ("DE", "Germany", 5),
        ("GB", "United Kingdom", 3),
        ("XX", "XX", 1),
    ]


def test_employee_counts_fall_into_eu_size_bands_in_band_order() -> None:
    counts: dict[RawValue, int] = {1: 2, 9: 1, 10: 4, 249: 1, 250: 3, 999: 1, 1_000: 2, None: 5}
    groups = groups_of(Dimension.EMPLOYEE_BAND, counts)
    assert [(g.key, g.label, g.count) for g in groups] == [
        ("1-9", "1 to 9", 3),
        ("10-49", "10 to 49", 4),
        ("50-249", "50 to 249", 1),
        ("250-999", "250 to 999", 4),
        ("1000+", "1,000 or more", 2),
        (None, "Not stated", 5),
    ]
    assert groups[-2].band == Band(1_000, None)


def test_bands_cover_every_count_from_one_without_gaps() -> None:
    for bands in (EMPLOYEE_BANDS, ORGANIZATION_USER_BANDS):
        assert bands[0].lower == 1 and bands[-1].upper is None
        for before, after in itertools.pairwise(bands):
            assert before.upper is not None and before.upper + 1 == after.lower
    assert [b.key for b in ORGANIZATION_USER_BANDS] == ["1-5", "6-25", "26-100", "101-500", "501+"]


def test_the_not_stated_group_follows_the_same_rule() -> None:
    result = summarise(Dimension.EMPLOYEE_BAND, {5: 12, None: 3}, K)
    assert [g.key for g in result.groups] == []
    assert result.remainder == 15
    result = summarise(Dimension.EMPLOYEE_BAND, {5: 12, None: 10}, K)
    assert [g.key for g in result.groups] == ["1-9", None]
    assert result.remainder == 0


def test_only_partners_registered_for_aggregate_statistics_may_read_them() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    counted = Partner(uuid.uuid4(), "A", frozenset({SharingPurpose.AGGREGATE_STATISTICS}), now)
    offers = Partner(uuid.uuid4(), "B", frozenset({SharingPurpose.PARTNER_OFFERS}), now)
    assert may_read_statistics(counted)
    assert not may_read_statistics(offers)
