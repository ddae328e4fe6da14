"""A doctor finding, the report table, and what the findings mean for the exit code."""
from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True)
class Finding:
    level: str    # ok | warning | problem
    topic: str
    message: str
    fix: str = ""  # empty when ok


def doctor_exit_code(findings: list[Finding]) -> int:
    """1 when anything would stop the stack from working, else 0 (warnings do not fail)."""
    return 1 if any(f.level == PROBLEM for f in findings) else 0


# Names the CLI and `up` already use.
LEVEL_STYLE = {OK: "green", WARNING: "yellow", PROBLEM: "red"}


def render_report(findings: list[Finding]) -> Table:
    table = Table(title="Local AI Stack doctor", title_justify="left")
    for column in ("", "Check", "Finding", "Fix"):
        table.add_column(column)
    for f in findings:
        style = LEVEL_STYLE.get(f.level, "")
        table.add_row(f"[{style}]{f.level}[/{style}]", f.topic, f.message, f.fix)
    return table
