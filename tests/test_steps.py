"""The table of steps names every step once, and each row is consistent."""

from __future__ import annotations

from handlers.flow import Registers, StepName
from handlers.steps import FLOW


def test_every_step_has_one_row() -> None:
    assert set(FLOW) == set(StepName)
    assert len({id(spec.step) for spec in FLOW.values()}) == len(FLOW)


def test_cancel_goes_to_a_step_and_registration_steps_can_be_cancelled() -> None:
    for name, spec in FLOW.items():
        for cancel in (spec.cancel, spec.cancel_edit):
            assert cancel is None or cancel.to in FLOW, name
        if spec.registers is not Registers.NO:
            assert spec.cancel is not None, name
