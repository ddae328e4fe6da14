"""tests/images/build.py, when a step cannot be fetched: CI must fail, and say which image.

A real debootstrap from this machine's Debian mirror, of a base that lists a package the mirror does
not have (debootstrap stops with "Couldn't find these debs" after fetching the index, ~10 s). The
build runs from a copy of build.py in a temp dir with its own TMPDIR, so its lock and times file
are not the shared ones.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_a_step_that_cannot_be_fetched_fails_and_names_the_image(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "unfetchable").mkdir(parents=True)
    shutil.copy2(REPO / "tests" / "images" / "build.py", images / "build.py")
    (images / "unfetchable" / "packages.txt").write_text("coreutils\nno-such-package-localai-test\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("LOCALAI_BUILD_TIMES", None)
    result = subprocess.run([sys.executable, str(images / "build.py"), "--only", "unfetchable"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("build.py: error: unfetchable: debootstrap failed"), result.stderr
    assert "no-such-package-localai-test" in result.stderr
    assert "Traceback" not in result.stderr
    times = (tmp_path / "localai-build-times.tsv").read_text().split("\t")
    assert times[1:3] == ["unfetchable", "FAILED"]  # the time table shows the failed step too
