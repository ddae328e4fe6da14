"""Keep secret values out of everything we print, log or raise (invariant 1)."""
from __future__ import annotations

_known: set[str] = set()

MIN_SECRET_LENGTH = 6


def register(*values: str) -> None:
    """Remember secret values so later output can be scrubbed of them."""
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            _known.add(value)


def scrub(text: str) -> str:
    """Replace every registered secret in `text` with a marker, longest first."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def scrub_argv(argv: list[str]) -> list[str]:
    return [scrub(arg) for arg in argv]
