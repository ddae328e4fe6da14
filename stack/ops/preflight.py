"""Before anything starts: the ports we publish are free, and doctor's warnings that matter for `up`."""
from __future__ import annotations

from stack.config.settings import Settings
from stack.doctor.checks import before_up
from stack.doctor.probes import SystemProbe
from stack.engines.base import Engine
from stack.errors import StackError
from stack.ops.events import Ui
from stack.services import ports


def check_ports_free(settings: Settings, engine: Engine) -> None:
    """Fail before anything starts if another program holds a port we must publish."""
    ours: set[int] = set()
    for state in engine.states().values():
        for publisher in state.publishers:
            if publisher.get("PublishedPort"):
                ours.add(int(publisher["PublishedPort"]))  # type: ignore[call-overload]
    for published in ports.taken(settings, ours):
        raise StackError(f"port {published.port} ({published.source}) is already in use by another program; nothing "
                         f"was started", hint=f"stop that program or choose another port for "
                         f"{published.setting} in .env" if published.setting else "stop the program that holds it")


def brief_doctor(settings: Settings, ui: Ui) -> None:
    """Before `up`: show doctor's warnings and problems about GPU, disk and memory in one line each."""
    shown, context = before_up(settings, SystemProbe())
    for finding in shown:
        ui.note(f"[yellow]{finding.level}[/yellow]: {finding.message}" + (f" - {finding.fix}" if finding.fix else ""))
    if context:  # the context window Ollama gets, always shown
        ui.note(f"Ollama context: {context.message}")
