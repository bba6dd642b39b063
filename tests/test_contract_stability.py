"""The contract stays stable: `schema.graphql` may grow, but a change that can break a client
(graphql-core's breaking-change detection against `contract/released.graphql`) fails unless it
is recorded deliberately, with a version bump in pyproject.toml and a CHANGELOG.md entry under
that version naming each breaking change. Deprecations say why."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import graphql
from graphql.utilities.find_schema_changes import (
    BreakingChangeType,
    DangerousChangeType,
    SchemaChange,
    find_schema_changes,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema.graphql"
RELEASED = ROOT / "contract" / "released.graphql"
CHANGELOG = ROOT / "CHANGELOG.md"
PYPROJECT = ROOT / "pyproject.toml"

_RELEASED_HEADER = re.compile(r"#\s*datarights (\d+\.\d+\.\d+)\b")
_VERSION_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\]", re.MULTILINE)


Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


def released_version(released_sdl: str) -> str:
    """The version written in the released contract's first line (`# datarights X.Y.Z …`)."""
    match = _RELEASED_HEADER.match(released_sdl)
    assert match, f"{RELEASED.name} must begin with '# datarights X.Y.Z'"
    return match.group(1)


def project_version() -> str:
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def changelog_entry(changelog: str, version: str) -> str | None:
    """The text under `## [version]` up to the next version heading, or None."""
    headings = list(_VERSION_HEADING.finditer(changelog))
    for index, heading in enumerate(headings):
        if heading.group(1) == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(changelog)
            return changelog[heading.end() : end]
    return None


def bump_allows_breaking(released: str, new: str) -> bool:
    """Semantic versioning: a breaking change needs a new major version, or while the major is
    0, a new minor one."""
    old_major, old_minor, _ = parse_version(released)
    new_major, new_minor, _ = parse_version(new)
    if old_major == 0:
        return new_major > 0 or new_minor > old_minor
    return new_major > old_major


# A change's schema coordinate: the first of `Type`, `Type.field`, `Type.field(arg:)`, `@directive`
# or `@directive(arg:)` in graphql-core's description of it.
_COORDINATE = re.compile(r"@?[_A-Za-z]\w*(?:\.\w+)?(?:\(\w+:\))?")
_LEADING_WORDS = re.compile(
    r"^(?:Field|Argument|Enum value|A required (?:field|argument)|Standard scalar|Directive) "
)


def coordinate(change: SchemaChange) -> str:
    match = _COORDINATE.match(_LEADING_WORDS.sub("", change.description))
    return match.group(0) if match else change.description


def _normalised(text: str) -> str:
    return " ".join(text.replace("`", "").split()).rstrip(".").lower()


def is_recorded(change: SchemaChange, entry: str) -> bool:
    """The entry quotes graphql-core's description of the change, or names its coordinate in
    backticks (`Query.me`, `RegisterInput.email`, `Customer.consentHistory(first:)`)."""
    return _normalised(change.description) in _normalised(entry) or (
        f"`{coordinate(change)}`" in entry
    )


@dataclass(frozen=True)
class Verdict:
    breaking: list[SchemaChange]
    dangerous: list[SchemaChange]
    # What stops the change from passing: unrecorded breaking changes, a missing version bump.
    problems: list[str]


def check_contract(released_sdl: str, current_sdl: str, version: str, changelog: str) -> Verdict:
    """Compare the current schema with the released one: every breaking change must be recorded
    under a CHANGELOG.md heading for ``version``, and ``version`` must be a breaking bump.

    graphql-core 3.3 deprecates find_breaking_changes and find_dangerous_changes in favour of
    find_schema_changes: their results are its breaking and its dangerous changes."""
    released = released_version(released_sdl)
    changes = find_schema_changes(
        graphql.build_schema(released_sdl), graphql.build_schema(current_sdl)
    )
    breaking = [c for c in changes if isinstance(c.type, BreakingChangeType)]
    dangerous = [c for c in changes if isinstance(c.type, DangerousChangeType)]
    problems: list[str] = []
    if parse_version(version) < parse_version(released):
        problems.append(f"pyproject.toml's version {version} is older than the released {released}")
    if breaking:
        if not bump_allows_breaking(released, version):
            problems.append(
                f"breaking changes need a version bump in pyproject.toml past {released} "
                f"(major, or minor while 0.x); it says {version}"
            )
        entry = changelog_entry(changelog, version)
        for change in breaking:
            if entry is None or not is_recorded(change, entry):
                problems.append(
                    f"unrecorded breaking change: {change.description} (list it, or "
                    f"`{coordinate(change)}`, in CHANGELOG.md under ## [{version}])"
                )
    return Verdict(breaking, dangerous, problems)


def deprecations_without_reason(sdl: str) -> list[str]:
    """Every `@deprecated` whose reason is missing or blank, by where it sits."""
    found: list[str] = []

    class Deprecations(graphql.Visitor):
        def enter_directive(self, node: graphql.DirectiveNode, *args: object) -> None:
            if node.name.value != "deprecated":
                return
            reason = next((a.value for a in node.arguments or () if a.name.value == "reason"), None)
            if not isinstance(reason, graphql.StringValueNode) or not reason.value.strip():
                location = node.loc.source.get_location(node.loc.start) if node.loc else None
                found.append(f"line {location.line}" if location else "somewhere")

    graphql.visit(graphql.parse(sdl), Deprecations())
    return found


# -- the gate on the checked-in files ----------------------------------------------------------


def test_schema_graphql_keeps_the_released_contract_or_records_its_breaking_changes() -> None:
    verdict = check_contract(
        RELEASED.read_text(), SCHEMA.read_text(), project_version(), CHANGELOG.read_text()
    )
    dangerous = "".join(f"\n  (for information) {c.description}" for c in verdict.dangerous)
    assert not verdict.problems, "\n".join(verdict.problems) + dangerous


def test_the_released_contract_names_a_version_that_the_changelog_describes() -> None:
    version = released_version(RELEASED.read_text())
    assert changelog_entry(CHANGELOG.read_text(), version), f"CHANGELOG.md has no ## [{version}]"
    assert parse_version(project_version()) >= parse_version(version)


def test_every_deprecation_in_the_schema_says_why() -> None:
    assert deprecations_without_reason(SCHEMA.read_text()) == []


# -- the gate itself ------------------------------------------------------------------------------

RELEASED_SDL = """# datarights 0.1.0
type Query {
  me: Customer
  profileFields: [String!]!
}

type Customer {
  id: ID!
  email: String!
  nickname: String
}

enum Topic {
  NEWSLETTER
  PROMOTIONS
}

input UpdateInput {
  name: String
}

type Mutation {
  update(input: UpdateInput!): Customer
}
"""

CHANGELOG_0_1 = "# Changelog\n\n## [0.1.0] - 2026-11-27\n\n### Added\n\n- Everything.\n"


def test_a_removed_field_is_reported_as_unrecorded() -> None:
    # given
    current = RELEASED_SDL.replace("  nickname: String\n", "")

    # when
    verdict = check_contract(RELEASED_SDL, current, "0.1.0", CHANGELOG_0_1)

    # then
    assert [c.type for c in verdict.breaking] == [BreakingChangeType.FIELD_REMOVED]
    assert any("version bump" in p for p in verdict.problems)
    assert any(
        p.startswith("unrecorded breaking change: Field Customer.nickname was removed")
        for p in verdict.problems
    )


def test_additive_changes_pass_without_a_bump_and_dangerous_ones_are_listed() -> None:
    current = (
        RELEASED_SDL.replace("  nickname: String\n", "  nickname: String\n  since: String\n")
        .replace("  PROMOTIONS\n", "  PROMOTIONS\n  EVENTS\n")
        .replace("  name: String\n", "  name: String\n  expectedVersion: Int\n")
        + "type Extra {\n  id: ID!\n}\n"
    )

    verdict = check_contract(RELEASED_SDL, current, "0.1.0", CHANGELOG_0_1)

    assert verdict.problems == []
    assert verdict.breaking == []
    assert {c.type for c in verdict.dangerous} == {
        DangerousChangeType.VALUE_ADDED_TO_ENUM,
        DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED,
    }


def test_a_breaking_change_passes_once_recorded_with_a_version_bump() -> None:
    current = RELEASED_SDL.replace("  nickname: String\n", "").replace(
        "  name: String\n", "  name: String!\n"
    )
    changelog = CHANGELOG_0_1.replace(
        "## [0.1.0]",
        "## [0.2.0] - 2027-01-04\n\n### Removed\n\n"
        "- **Breaking:** `Customer.nickname` (nobody set it).\n\n### Changed\n\n"
        "- **Breaking:** Field UpdateInput.name changed type from String to String!.\n\n"
        "## [0.1.0]",
    )

    assert check_contract(RELEASED_SDL, current, "0.2.0", changelog).problems == []
    # Recorded, but the version stays: still refused.
    assert check_contract(RELEASED_SDL, current, "0.1.1", changelog).problems
    # Bumped, but one change is not in the entry: refused, naming only that one.
    partial = changelog.replace("- **Breaking:** `Customer.nickname` (nobody set it).\n", "")
    problems = check_contract(RELEASED_SDL, current, "0.2.0", partial).problems
    assert problems == [
        "unrecorded breaking change: Field Customer.nickname was removed. (list it, or "
        "`Customer.nickname`, in CHANGELOG.md under ## [0.2.0])"
    ]


def test_a_change_recorded_under_an_older_version_does_not_count() -> None:
    current = RELEASED_SDL.replace("  PROMOTIONS\n", "")
    changelog = CHANGELOG_0_1.replace("- Everything.", "- Everything. `Topic.PROMOTIONS` removed.")
    changelog = changelog.replace(
        "## [0.1.0]", "## [0.2.0] - 2027-01-04\n\n- Other things.\n\n## [0.1.0]"
    )

    problems = check_contract(RELEASED_SDL, current, "0.2.0", changelog).problems

    assert problems == [
        "unrecorded breaking change: Enum value Topic.PROMOTIONS was removed. (list it, or "
        "`Topic.PROMOTIONS`, in CHANGELOG.md under ## [0.2.0])"
    ]


def test_after_1_0_only_a_major_bump_allows_a_breaking_change() -> None:
    assert bump_allows_breaking("1.4.2", "2.0.0")
    assert not bump_allows_breaking("1.4.2", "1.5.0")
    assert bump_allows_breaking("0.1.0", "0.2.0")
    assert bump_allows_breaking("0.9.3", "1.0.0")
    assert not bump_allows_breaking("0.1.0", "0.1.1")


def test_a_deprecation_without_a_reason_is_found() -> None:
    sdl = (
        "type Query {\n"
        '  a: String @deprecated(reason: "Use b: it is typed.")\n'
        "  b: Int\n"
        "  c: String @deprecated\n"
        '  d(x: Int @deprecated(reason: " ")): String\n'
        "}\n"
    )

    assert deprecations_without_reason(sdl) == ["line 4", "line 5"]
