"""A real browser through Caddy: headless Chromium signs in to Open WebUI and n8n, chats with a
model and with the n8n agent, and opens the starter workflow, in private mode and in public mode
(`tls internal`, Caddy's own CA trusted by this browser only). Screenshots: tests/artifacts/browser/."""
from __future__ import annotations

import pytest

from tests.e2e.browser import StepFailed, chromium


def test_a_failed_step_is_named_and_keeps_its_screenshot():
    with chromium("helper-check") as session:
        session.page.set_content("<h1>Local AI Stack</h1>")
        with session.step("read the heading"):
            assert session.page.get_by_role("heading").inner_text() == "Local AI Stack"
        with pytest.raises(StepFailed) as failed, session.step("find a missing button"):
            session.page.get_by_role("button", name="Nope").click(timeout=500)
        shots = sorted(p.name for p in session.shots.iterdir())
    assert "browser step 'find a missing button' failed" in str(failed.value)
    assert shots == ["01-read-the-heading.png", "02-FAILED-find-a-missing-button.png"]
    assert str(session.shots / shots[1]) in str(failed.value)
