"""The n8n test image leaves out source maps and type declarations (tests/images/n8n/prepare.py
PRUNE), but keeps the TypeScript compiler's lib/*.d.ts, which it reads when it runs, and every
file n8n loads: a .js, a .json, pdf.js's .bcmap character maps."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("n8n_prepare", REPO / "tests/images/n8n/prepare.py")
prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare)

DROPPED = ("n8n/dist/server.js.map", "n8n/dist/server.d.ts", "a/index.d.mts", "a/index.d.cts",
           "a/style.css.map", "a/esm/index.mjs.map", "a/index.d.ts.map", "@types/node/fs.d.ts")
KEPT = ("n8n/dist/server.js", "n8n/package.json", "typescript/lib/lib.es5.d.ts",
        "a/node_modules/typescript/lib/lib.dom.d.ts", "pdfjs-dist/cmaps/78-EUC-H.bcmap", "a/source.map/index.js")


def test_prune_drops_maps_and_declarations_and_keeps_what_runs(tmp_path: Path):
    for name in DROPPED + KEPT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert prepare.prune(tmp_path).returncode == 0
    assert [name for name in DROPPED if (tmp_path / name).exists()] == []
    assert [name for name in KEPT if not (tmp_path / name).exists()] == []


def test_the_prune_list_is_part_of_the_app_image_tag(monkeypatch):
    before = prepare.tag()
    monkeypatch.setattr(prepare, "PRUNE", prepare.PRUNE[:-1])
    assert prepare.tag() != before
