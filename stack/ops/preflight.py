"""Before anything starts: the ports we publish are free, and doctor's warnings that matter for `up`."""
from __future__ import annotations

import socket

from stack.catalogue import published_ports
from stack.config.settings import Settings
from stack.doctor.checks import before_up
from stack.doctor.probes import SystemProbe
from stack.engines.base import Engine
from stack.errors import StackError
from stack.ops.events import Ui


def check_ports_free(settings: Settings, engine: Engine) -> None:
    """Fail before anything starts if another program holds a port we must publish."""
    ours: set[int] = set()
    for state in engine.states().values():
        for publisher in state.publishers:
            if publisher.get("PublishedPort"):
                ours.add(int(publisher["PublishedPort"]))  # type: ignore[call-overload]
    host = "0.0.0.0" if settings.public else "127.0.0.1"
    for published in published_ports(settings):
        port = published.port
        if port in ours:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise StackError(f"port {port} ({published.source}) is already in use by another program; nothing "
                                 f"was started", hint=f"stop that program or choose another port for "
                                 f"{published.setting} in .env" if published.setting
                                 else "stop the program that holds it") from exc


def brief_doctor(settings: Settings, ui: Ui) -> None:
    """Before `up`: show doctor's warnings and problems about GPU, disk and memory in one line each."""
    shown, context = before_up(settings, SystemProbe())
    for finding in shown:
        ui.note(f"[yellow]{finding.level}[/yellow]: {finding.message}" + (f" - {finding.fix}" if finding.fix else ""))
    if context:  # the context window Ollama gets, always shown
        ui.note(f"Ollama context: {context.message}")
