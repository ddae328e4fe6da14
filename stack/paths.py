"""Where the project lives on disk."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR_NAME = "build"
