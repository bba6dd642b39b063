"""Readiness reads the migrations' revisions without Alembic, and a serving process does not
load what it does not use (Alembic; redis without a Redis URL)."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from persistence.migrate import alembic_config
from persistence.readiness import known_revisions


def test_the_revisions_read_from_the_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    head, known = known_revisions()
    assert head == script.get_current_head()
    assert known == {revision.revision for revision in script.walk_revisions()}


def test_a_built_app_has_not_imported_alembic_nor_redis_without_a_redis_url() -> None:
    probe = (
        "import sys; from api.app import create_app; from api.settings import Settings; "
        "create_app(Settings(database_url='sqlite+aiosqlite:///:memory:', redis_url=None)); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'redis'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
