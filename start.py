#!/usr/bin/env python3
"""Entry point: make sure the pinned virtualenv exists, then run the click CLI inside it.

Only the standard library is used at module level, so `python start.py` works on a machine
that has nothing but Python 3.11.
"""
from __future__ import annotations

from stack.bootstrap import ensure_venv

if __name__ == "__main__":
    ensure_venv()
    try:
        from stack.cli.main import main
    except KeyboardInterrupt:  # Ctrl-C while the CLI is still loading: nothing has started yet
        raise SystemExit(130) from None

    main()
