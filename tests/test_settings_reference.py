"""The configuration reference in docs/operations.md is the one the Settings class gives."""

from __future__ import annotations

import pytest
from pydantic import Field

from api.settings import Settings
from api.settings_reference import DOCUMENT, Undocumented, reference, with_reference


def test_the_committed_reference_matches_the_settings_class() -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")
    assert with_reference(committed, reference()) == committed, (
        "the configuration reference in docs/operations.md is out of date: "
        "run scripts/settings-reference"
    )


def test_every_setting_is_in_the_reference() -> None:
    table = reference()
    for name in Settings.model_fields:
        assert f"`DATARIGHTS_{name.upper()}`" in table


def test_secrets_and_computed_defaults_are_described_not_shown() -> None:
    table = reference()
    assert "development key (refused in production)" in table
    assert "ZGF0YXJpZ2h0cy1kZXZlbG9wbWVudC1vbmx5LWtleSE" not in table
    assert "`sqlite+aiosqlite:///./datarights.db`" in table
    assert "/work/" not in table and "/home/" not in table


def test_a_setting_without_a_description_is_refused_by_name() -> None:
    class WithANewSetting(Settings):
        shiny_new_knob: int = Field(default=3)

    with pytest.raises(Undocumented, match="DATARIGHTS_SHINY_NEW_KNOB"):
        reference(WithANewSetting)
