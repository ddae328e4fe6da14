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

    def fake_prepare(name: str) -> list[str]:
        note(f"prepare {name}")
        return ["--build-arg", f"PREPARED={name}"]

    def fake_image(name: str, base: str, force: bool, extra_args: list[str]) -> str:
        assert extra_args == ["--build-arg", f"PREPARED={name}"]  # what its preparation printed
        note(f"start {name} on {base}")
        note(f"end {name}")
        return "built"

    monkeypatch.setattr(build, "build_base", fake_base)
    monkeypatch.setattr(build, "prepare_image", fake_prepare)
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
    monkeypatch.setattr(build, "prepare_image", lambda name: [])
    monkeypatch.setattr(build, "build_image", lambda name, base, force, extra_args: (both.wait(), "built")[1])
    monkeypatch.setattr(build, "report", lambda *args, **kwargs: None)
    monkeypatch.setattr(build, "image_base", lambda name: "base")
    monkeypatch.setattr(build, "WORKERS", 3)
    build.build_all(["base"], ["n8n", "open-webui"], lambda base: False, False)


def test_an_image_is_prepared_while_its_base_is_still_being_built(recorded, monkeypatch):
    # n8n's prepare.py (npm ci, minutes) need not wait for the debootstrap of its base: the base's
    # build here only ends once n8n's preparation has begun, and fails the test if it never does.
    prepared = threading.Event()

    def prepare_then_signal(name: str) -> list[str]:
        prepared.set()
        return ["--build-arg", f"PREPARED={name}"]

    def base_waiting_for_the_preparation(force: bool, base: str = "base") -> tuple[str, str]:
        assert prepared.wait(10), "n8n was not prepared while its base was built"
        return f"localai-test/{base}:abc", "built"

    monkeypatch.setattr(build, "WORKERS", 2)
    monkeypatch.setattr(build, "image_base", lambda name: "base")
    monkeypatch.setattr(build, "prepare_image", prepare_then_signal)
    monkeypatch.setattr(build, "build_base", base_waiting_for_the_preparation)
    build.build_all(["base"], ["n8n"], lambda base: False, False)
    assert recorded.index("report base built") < recorded.index("start n8n on localai-test/base:abc")


def test_a_failed_preparation_names_its_image_and_builds_nothing(recorded, monkeypatch):
    def failing_prepare(name: str) -> list[str]:
        if name == "n8n":
            raise build.BuildError("n8n/prepare.py failed (exit 1):\nprepare.py: npm ci failed: E404")
        return []

    monkeypatch.setattr(build, "prepare_image", failing_prepare)
    monkeypatch.setattr(build, "build_image", lambda name, base, force, extra_args: recorded.append(f"start {name}")
                        or "built")
    monkeypatch.setattr(build, "image_base", lambda name: "base")
    with pytest.raises(build.StepFailed) as failed:
        build.build_all(["base"], ["n8n", "caddy"], lambda base: False, False)
    assert failed.value.step == "n8n" and "npm ci failed: E404" in str(failed.value)
    assert "report n8n FAILED" in recorded and "start n8n" not in recorded
    assert "start caddy" in recorded


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
