"""The volume check of a Postgres move: an exact copy (cp -a) of a data directory lists the same.

A directory that once held many entries keeps its larger size on ext4 and overlayfs, while its
copy is compacted; Postgres databases that dropped many tables look like that. The listing must
then still match, or `update` refuses every such move (seen in e2e/test_upgrade.py).
"""
from __future__ import annotations

import subprocess

from stack.ops.pgfacts import LISTING


def listing(path) -> str:
    return subprocess.run(["sh", "-c", LISTING.replace(" | sha256sum", ""), "listing", str(path)],
                          capture_output=True, text=True, check=True).stdout


def test_a_copy_of_a_directory_that_shrank_lists_the_same(tmp_path):
    source = tmp_path / "source" / "base" / "16459"
    source.mkdir(parents=True)
    for n in range(3000):
        (source / f"{n:05d}-a-long-enough-name-to-fill-directory-blocks").write_bytes(b"x")
    for n in range(2990):
        (source / f"{n:05d}-a-long-enough-name-to-fill-directory-blocks").unlink()
    (source / "PG_VERSION").write_text("15\n")
    subprocess.run(["cp", "-a", f"{tmp_path / 'source'}/.", str(tmp_path / "copy")], check=True)
    assert listing(tmp_path / "source") == listing(tmp_path / "copy")


def test_the_listing_still_sees_a_file_whose_size_or_mode_changed(tmp_path):
    for name in ("source", "copy"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pg_control").write_bytes(b"12345678")
    before = listing(tmp_path / "copy")
    (tmp_path / "copy" / "pg_control").write_bytes(b"1234")
    assert listing(tmp_path / "source") != listing(tmp_path / "copy")
    (tmp_path / "copy" / "pg_control").write_bytes(b"12345678")
    (tmp_path / "copy" / "pg_control").chmod(0o600)
    assert listing(tmp_path / "copy") != before
