"""Backups (issue 12 "Backups"): deploy/backup.sh writes an encrypted, rotated dump of a real
PostgreSQL database; deploy/restore.sh brings it back into an empty database where every row
of every table is found again, and refuses a wrong key, a damaged file or a non-empty target.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

from crm import clock
from crm.extensions import db
from crm.services import demo
from tests.support import servers
from tests.support.scratch import scratch_app

pytestmark = pytest.mark.postgres

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _postgres_bin() -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return str(versions[-1]) if versions else ""


def _run(
    script: str,
    *args: str,
    key_file: Path,
    backup_dir: Path,
    database_url: str = "",
    keep: int = 14,
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        PATH=f"{_postgres_bin()}:{env.get('PATH', '')}",
        BACKUP_KEY_FILE=str(key_file),
        BACKUP_DIR=str(backup_dir),
        BACKUP_KEEP=str(keep),
        DATABASE_URL=database_url,
    )
    return subprocess.run(
        ["bash", str(DEPLOY / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of all its rows, in a stable order."""
    engine = create_engine(servers._psycopg_url(url))
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            return {
                table: connection.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' "
                        f"ORDER BY t::text), '')) FROM \"{table}\" t"
                    )
                )
                .one()
                ._tuple()
                for table in tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def seeded_database(tmp_path):
    """A migrated PostgreSQL database holding the demo data set; its URL."""
    with scratch_app(tmp_path, "postgresql") as app:
        upgrade()
        demo.seed(db.session, clock.now(), customers=30)
        db.session.commit()
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        db.session.remove()
        db.engine.dispose()
        yield url


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "backup.key"
    path.write_text("a-long-random-backup-key-for-the-test\n")
    return path


@pytest.fixture
def empty_database():
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL)")
    url = servers.create_postgres_database("restore_target")
    yield url
    servers.drop_postgres_database(url)


def _backup(seeded_database, key_file, backup_dir, keep=14) -> Path:
    result = _run(
        "backup.sh",
        key_file=key_file,
        backup_dir=backup_dir,
        database_url=seeded_database,
        keep=keep,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_a_backup_restored_into_an_empty_database_holds_every_row(
    seeded_database, key_file, empty_database, tmp_path
):
    backup = _backup(seeded_database, key_file, tmp_path / "backups")
    assert backup.exists() and backup.with_name(backup.name + ".sha256").exists()
    # Encrypted: neither the dump's magic bytes nor a table name are readable in the file.
    content = backup.read_bytes()
    assert not content.startswith(b"PGDMP") and b"customers" not in content

    result = _run("restore.sh", str(backup), empty_database, key_file=key_file, backup_dir=tmp_path)
    assert result.returncode == 0, result.stderr

    original, restored = _fingerprint(seeded_database), _fingerprint(empty_database)
    assert original["customers"][0] >= 30 and original["vehicles"][0] > 0
    assert restored == original


def test_a_wrong_key_restores_nothing(seeded_database, key_file, empty_database, tmp_path):
    backup = _backup(seeded_database, key_file, tmp_path / "backups")
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not-the-key\n")

    result = _run("restore.sh", str(backup), empty_database, key_file=wrong, backup_dir=tmp_path)

    assert result.returncode != 0
    assert _fingerprint(empty_database) == {}


def test_a_damaged_backup_is_refused_before_anything_is_restored(
    seeded_database, key_file, empty_database, tmp_path
):
    backup = _backup(seeded_database, key_file, tmp_path / "backups")
    damaged = bytearray(backup.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    backup.write_bytes(bytes(damaged))

    result = _run("restore.sh", str(backup), empty_database, key_file=key_file, backup_dir=tmp_path)

    assert result.returncode == 3
    assert "checksum" in result.stderr
    assert _fingerprint(empty_database) == {}


def test_restore_refuses_a_database_that_already_has_tables(seeded_database, key_file, tmp_path):
    backup = _backup(seeded_database, key_file, tmp_path / "backups")
    before = _fingerprint(seeded_database)

    result = _run(
        "restore.sh", str(backup), seeded_database, key_file=key_file, backup_dir=tmp_path
    )

    assert result.returncode == 4
    assert "empty" in result.stderr
    assert _fingerprint(seeded_database) == before


def test_only_the_newest_backups_are_kept(seeded_database, key_file, tmp_path):
    backup_dir = tmp_path / "backups"
    made = [_backup(seeded_database, key_file, backup_dir, keep=2) for _ in range(3)]

    kept = sorted(backup_dir.glob("crm-*.dump.enc"))

    assert kept == sorted(made[1:])
    assert sorted(backup_dir.glob("*.sha256")) == sorted(
        path.with_name(path.name + ".sha256") for path in made[1:]
    )
    assert not list(backup_dir.glob("*.partial"))


def test_backup_without_a_key_file_writes_nothing(seeded_database, tmp_path):
    backup_dir = tmp_path / "backups"

    result = _run(
        "backup.sh",
        key_file=tmp_path / "missing.key",
        backup_dir=backup_dir,
        database_url=seeded_database,
    )

    assert result.returncode == 2
    assert "key file" in result.stderr
    assert not backup_dir.exists() or not list(backup_dir.iterdir())
