"""Restore's archive checks, on archives that are valid tar files: the digest comparison itself."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from stack.errors import ConfigError
from stack.ops import backup

MEMBERS = {"env": b"PROJECT_NAME=localai\n", "postgres.sql": b"SELECT 1;\n", "volumes/n8n_data.tar": b"x" * 64}


def _archive(path: Path, members: dict[str, bytes], digests: dict[str, str] | None = None,
             fmt: int = backup.FORMAT) -> Path:
    manifest = {"format": fmt, "project": "localai", "volumes": {},
                "sha256": digests or {k: hashlib.sha256(v).hexdigest() for k, v in members.items()}}
    with tarfile.open(path, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_an_intact_archive_verifies(tmp_path: Path) -> None:
    manifest = backup.verify(_archive(tmp_path / "ok.tar", MEMBERS))
    assert set(manifest["sha256"]) == set(MEMBERS)


def test_a_member_changed_after_backup_is_refused_by_its_digest(tmp_path: Path) -> None:
    digests = {k: hashlib.sha256(v).hexdigest() for k, v in MEMBERS.items()}
    tampered = {**MEMBERS, "postgres.sql": b"DROP TABLE precious;\n"}
    with pytest.raises(ConfigError, match="checksum of postgres.sql does not match"):
        backup.verify(_archive(tmp_path / "tampered.tar", tampered, digests))


def test_a_member_missing_from_the_manifest_is_refused(tmp_path: Path) -> None:
    digests = {k: hashlib.sha256(v).hexdigest() for k, v in MEMBERS.items() if k != "env"}
    with pytest.raises(ConfigError, match="unexpected members"):
        backup.verify(_archive(tmp_path / "extra.tar", MEMBERS, digests))


def test_an_archive_of_another_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format 99"):
        backup.verify(_archive(tmp_path / "future.tar", MEMBERS, fmt=99))


def test_the_archived_env_is_read_without_extracting(tmp_path: Path) -> None:
    assert backup.archived_env(_archive(tmp_path / "ok.tar", MEMBERS)) == "PROJECT_NAME=localai\n"
