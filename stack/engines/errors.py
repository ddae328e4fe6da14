"""Typed failures of external commands, as python-on-whales has them (DockerException keeps
docker_command, return_code, stdout and stderr; subclasses name the cases callers act on), so
callers branch on a type, never on the words of a message.

The one place that reads Docker's own error text is `classify`: the runner calls it once per
failure, and a Docker rewording then changes one table here, not behaviour all over the stack.
"""
from __future__ import annotations

from stack.errors import StackError


class CommandError(StackError):
    """An external command that could not run or failed: redacted argv, exit code, stderr tail."""

    def __init__(self, message: str, *, argv: list[str], returncode: int | None = None, stderr: str = "",
                 hint: str = "") -> None:
        super().__init__(message, command=argv, returncode=returncode, stderr=stderr, hint=hint)
        self.argv = argv


class CommandNotFound(CommandError):
    """The program is not installed or not on PATH (a shell would exit 127)."""


class CommandTimedOut(CommandError):
    """The program did not finish within its timeout and was killed (timeout(1) exits 124)."""


class CommandFailed(CommandError):
    """The program ran and exited non-zero."""


class NetworkInUse(CommandFailed):
    """Docker refused to remove a network that still has endpoints (containers just going away)."""


class NoSuchObject(CommandFailed):
    """Docker has no such container, image, volume or network."""


class DockerSocketDenied(CommandFailed):
    """This user may not open the Docker socket (not in the docker group)."""


# Docker's wording of the failures above (moby daemon/network.go "has active endpoints";
# errdefs not-found errors say "No such container/image/volume/network"; the docker CLI says "permission
# denied while trying to connect to the Docker daemon socket", newer ones "... to the docker API").
DOCKER_TEXT: tuple[tuple[type[CommandFailed], str], ...] = (
    (NetworkInUse, "has active endpoints"),
    (NoSuchObject, "no such "),
    (DockerSocketDenied, "permission denied while trying to connect to the docker"),
)


def classify(argv: list[str], stderr: str) -> type[CommandFailed]:
    """The CommandFailed subclass for a failed docker command, from what Docker wrote."""
    if argv and argv[0] == "docker":
        text = stderr.lower()
        for kind, words in DOCKER_TEXT:
            if words in text:
                return kind
    return CommandFailed


# Swarm's scheduler reports a task it cannot place on any node as "no suitable node (<why>)", seen on
# this machine's Engine 20.10.24 in `docker stack ps --no-trunc`: "no suitable node (scheduling
# constraints not satisfied on 1 node)" (the swarmkit source was not in the code index to cite).
UNSCHEDULABLE_TEXT = "no suitable node"


def unschedulable(task_error: str) -> bool:
    """Swarm cannot place the task on any node (constraints, resources, host ports)."""
    return UNSCHEDULABLE_TEXT in task_error.lower()
