"""The `datarights` command: migrate, export-schema, and serve's refusals in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api.schema import schema
from persistence.card_vault import VaultKeyring

ROOT = Path(__file__).resolve().parent.parent


def datarights(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATARIGHTS_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_export_schema_prints_the_sdl(tmp_path: Path) -> None:
    result = datarights("export-schema", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == schema.as_str().strip()


def test_migrate_creates_the_embedded_database_in_the_working_directory(tmp_path: Path) -> None:
    result = datarights("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "datarights.db").exists()
    again = datarights("migrate", cwd=tmp_path)
    assert again.returncode == 0


def test_production_refuses_the_published_development_vault_key(tmp_path: Path) -> None:
    result = datarights("serve", cwd=tmp_path, DATARIGHTS_ENV="production")
    assert result.returncode != 0
    assert "DATARIGHTS_CARD_VAULT_KEYS is missing or is the published development key" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_production_refuses_an_unmigrated_database_and_says_to_migrate(tmp_path: Path) -> None:
    result = datarights(
        "serve",
        cwd=tmp_path,
        DATARIGHTS_ENV="production",
        DATARIGHTS_CARD_VAULT_KEYS=VaultKeyring.generate("k1"),
        DATARIGHTS_REDIS_URL="redis://127.0.0.1:6379/15",
    )
    assert result.returncode == 2
    assert "run `datarights migrate`" in result.stderr


def test_production_refuses_rate_limits_counted_per_process(tmp_path: Path) -> None:
    result = datarights(
        "migrate",
        cwd=tmp_path,
        DATARIGHTS_ENV="production",
        DATARIGHTS_CARD_VAULT_KEYS=VaultKeyring.generate("k1"),
    )
    assert result.returncode != 0
    assert "DATARIGHTS_REDIS_URL is not set" in result.stderr


def test_production_refuses_insecure_cookies(tmp_path: Path) -> None:
    result = datarights(
        "migrate",
        cwd=tmp_path,
        DATARIGHTS_ENV="production",
        DATARIGHTS_CARD_VAULT_KEYS=VaultKeyring.generate("k1"),
        DATARIGHTS_COOKIE_SECURE="false",
    )
    assert result.returncode != 0
    assert "DATARIGHTS_COOKIE_SECURE cannot be false in production" in result.stderr


def test_a_generated_vault_key_is_accepted(tmp_path: Path) -> None:
    key = datarights("generate-vault-key", "--key-id", "k7", cwd=tmp_path).stdout.strip()
    keyring = VaultKeyring.parse(key)
    assert keyring.active == "k7"
    assert len(keyring.keys["k7"]) == 32


def test_a_bad_trusted_proxy_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    result = datarights("migrate", cwd=tmp_path, DATARIGHTS_TRUSTED_PROXIES="10.0.0.5,nonsense")
    assert result.returncode != 0
    assert "'nonsense' in DATARIGHTS_TRUSTED_PROXIES is not an IP or network" in result.stderr
    assert "Traceback" not in result.stderr
