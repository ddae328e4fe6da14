"""One port check (stack/services/ports.py) for up's pre-flight and doctor, over the ports the
service records publish. A port we may not bind ourselves (below 1024 without root) is not "in use"
by that fact: only a listener seen there makes it taken. Up's old pre-flight called any failed bind
"already in use by another program", so a non-root user's public `up` was refused on 80/443."""
from __future__ import annotations

import socket

from stack.config.settings import build
from stack.doctor.checks import check_ports
from stack.doctor.findings import PROBLEM
from stack.doctor.probes import SystemProbe
from stack.services import PublishedPort, ports
from tests.conftest import PUBLIC_ENV


def test_a_held_port_is_taken_unless_it_is_ours(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = build(tmp_path, {"WEBUI_PORT": str(port)}, {})
        assert ports.taken(settings, ours=set()) == [PublishedPort(port, "WEBUI_PORT", "WEBUI_PORT")]
        assert ports.taken(settings, ours={port}) == []
        found = [f for f in check_ports(settings, SystemProbe()) if f"port {port} " in f.message]
    assert found and "WEBUI_PORT" in found[0].message and found[0].level == PROBLEM


def test_a_port_we_may_not_bind_is_taken_only_when_something_listens(tmp_path):
    settings = build(tmp_path, {"ENVIRONMENT": "public", **PUBLIC_ENV}, {})
    cannot_bind = lambda host, port: None  # noqa: E731 (what port_in_use says for 80/443 without root)
    assert ports.taken(settings, ours=set(), in_use=cannot_bind) == []
    assert ports.taken(settings, ours=set(), in_use=cannot_bind, listening={443}) == [
        PublishedPort(443, "Caddy HTTPS (public mode)")]
    assert ports.bind_host(settings) == "0.0.0.0"
