"""tests/images/build.py builds side by side: each image waits for its own base only, the long ones
start first, and a failed base stops just the images on it, named once. (The builds themselves are
replaced here by recorders; the real ones run in tests/setup_machine.sh and test_build_failures.)"""
from __future__ import annotations

import contextlib
import threading

import pytest

from tests.unit.test_image_bases import build


@pytest.fixture
def recorded(monkeypatch):
    events: list[str] = []
    lock = threading.Lock()

    def note(event: str) -> None:
        with lock:
            events.append(event)

    def fake_base(force: bool, base: str = "base") -> tuple[str, str]:
        note(f"base {base}")
        if base == "broken":
            raise build.BuildError("debootstrap failed: Couldn't find these debs")
        return f"localai-test/{base}:abc", "built"

    def fake_image(name: str, base: str, force: bool) -> str:
        note(f"start {name} on {base}")
        note(f"end {name}")
        return "built"

    monkeypatch.setattr(build, "build_base", fake_base)
    monkeypatch.setattr(build, "build_image", fake_image)
    monkeypatch.setattr(build, "report", lambda name, outcome, started, extra="": note(f"report {name} {outcome}"))
    return events


def test_images_build_on_their_base_longest_first(recorded, monkeypatch):
    monkeypatch.setattr(build, "WORKERS", 1)  # one at a time: the order is the queue's
    monkeypatch.setattr(build, "image_base", lambda name: "base-trixie" if name == "postgres" else "base")
    tags = build.build_all(["base", "base-trixie"], ["caddy", "n8n", "open-webui", "postgres"],
                           lambda base: False, False)
    assert tags == {"base": "localai-test/base:abc", "base-trixie": "localai-test/base-trixie:abc"}
    starts = [e for e in recorded if e.startswith("start")]
    assert starts == ["start n8n on localai-test/base:abc", "start open-webui on localai-test/base:abc",
                      "start postgres on localai-test/base-trixie:abc", "start caddy on localai-test/base:abc"]
    assert recorded.index("report base built") < recorded.index(starts[0])


def test_two_builds_run_at_once(monkeypatch):
    both = threading.Barrier(2, timeout=10)  # broken (and the test fails) unless two builds overlap
    monkeypatch.setattr(build, "build_base", lambda force, base="base": (f"localai-test/{base}:abc", "cached"))
    monkeypatch.setattr(build, "build_image", lambda name, base, force: (both.wait(), "built")[1])
    monkeypatch.setattr(build, "report", lambda *args, **kwargs: None)
    monkeypatch.setattr(build, "image_base", lambda name: "base")
    monkeypatch.setattr(build, "WORKERS", 3)
    build.build_all(["base"], ["n8n", "open-webui"], lambda base: False, False)


def test_a_failed_base_names_itself_and_builds_nothing_on_it(recorded, monkeypatch):
    monkeypatch.setattr(build, "image_base", lambda name: "broken" if name in ("postgres", "postgres15") else "base")
    with pytest.raises(build.StepFailed) as failed:
        build.build_all(["base", "broken"], ["caddy", "postgres", "postgres15"], lambda base: False, False)
    assert failed.value.step == "broken"
    assert "Couldn't find these debs" in str(failed.value)
    assert "report broken FAILED" in recorded
    assert not any(e.startswith("start postgres") or e.startswith("report postgres") for e in recorded)
    assert "end caddy" in recorded  # the images on a good base are still built


def test_main_prints_the_failed_step_first(recorded, monkeypatch, capsys):
    monkeypatch.setattr(build, "selected", lambda only: ["postgres"])
    monkeypatch.setattr(build, "selected_bases", lambda only, names: ["broken"])
    monkeypatch.setattr(build, "image_base", lambda name: "broken")
    monkeypatch.setattr(build, "exclusive_lock", contextlib.nullcontext)
    assert build.main(["--only", "postgres"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "build.py: error: broken: debootstrap failed: Couldn't find these debs")
