"""Modules tell each other things through types and fields, never through the words of a message
(issue 12, finding 4): rewording a message must not change behaviour."""
from __future__ import annotations

import sys

from stack.doctor.checks import before_up
from stack.doctor.findings import Finding
from stack.doctor.probes import SystemProbe
from stack.services import PublishedPort, published_ports
from tests.conftest import PUBLIC_ENV
from tests.unit.test_doctor import FakeProbe, nvidia, settings


def test_published_ports_name_the_setting_that_chooses_them(tmp_path):
    private = published_ports(settings(tmp_path, "cpu"))
    assert PublishedPort(int(settings(tmp_path, "cpu")["WEBUI_PORT"]), "WEBUI_PORT", "WEBUI_PORT") in private
    assert all(p.setting for p in private)
    public = published_ports(settings(tmp_path, "cpu", ENVIRONMENT="public", **PUBLIC_ENV))
    assert {p.port for p in public} == {80, 443} and not any(p.setting for p in public)


def test_up_shows_the_findings_of_the_disk_ram_and_gpu_checks_whatever_their_topic_says(tmp_path, monkeypatch):
    import stack.doctor.checks as checks

    monkeypatch.setattr(checks, "check_disk", lambda s, p: Finding("warning", "reworded", "little disk", "free some"))
    shown, context = before_up(settings(tmp_path, "gpu-nvidia"), FakeProbe(nvidia("RTX 3060, 12288")))
    assert [f.topic for f in shown][0] == "reworded"  # selected by the check that made it, not by its topic
    assert context is not None and context.topic == "context"


def test_the_probe_tells_not_installed_from_timed_out_by_type():
    probe = SystemProbe()
    assert probe.command(["localai-no-such-program"]).code == 127
    probe.timeout = 0.5
    assert probe.command([sys.executable, "-c", "import time; time.sleep(30)"]).code == 124
