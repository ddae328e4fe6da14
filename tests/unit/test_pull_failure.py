"""The one line `up` and `update` print when an image cannot be pulled: the image, the setting that
pins it, and the daemon's reason, as Compose 2.40.3 printed it here for a tag the registry lacks
(tests/e2e/test_registry.py runs it for real)."""
from __future__ import annotations

from pathlib import Path

from stack.config.settings import build
from stack.ops.pulls import pull_failure

REF = "127.0.0.1:5999/localai/ollama:never-pushed"
OUTPUT = [" searxng Skipped - Image is already present locally", " ollama Pulling",
          f" ollama Error manifest for {REF} not found: manifest unknown: manifest unknown",
          f"Error response from daemon: manifest for {REF} not found: manifest unknown: manifest unknown"]


def test_names_the_image_its_setting_and_the_reason(tmp_path: Path) -> None:
    settings = build(tmp_path, {}, {"OLLAMA_IMAGE": REF})
    line = pull_failure(settings, [REF], OUTPUT)
    assert line == (f"could not pull {REF} (OLLAMA_IMAGE): manifest for {REF} not found: manifest unknown: "
                    "manifest unknown")
    assert "\n" not in line


def test_without_a_missing_image_it_stays_general(tmp_path: Path) -> None:
    assert pull_failure(build(tmp_path, {}, {}), [], OUTPUT) == "pulling the images failed"
