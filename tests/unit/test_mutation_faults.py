"""Every planted fault still applies to today's code (a stale one would prove nothing)."""
from __future__ import annotations

import pytest

from tests.mutations.faults import FAULTS
from tests.mutations.run import REPO


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_text_occurs_exactly_once(fault) -> None:
    text = (REPO / fault.path).read_text()
    assert text.count(fault.find) == 1, f"{fault.path}: fix the mutation '{fault.name}'"
    assert fault.find != fault.replace and fault.tests
