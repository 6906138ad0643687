"""Target.kind: an emulator or an account, never a string that silently means 'account'."""

from __future__ import annotations

import pytest

from milvus_spcs.target import Target, TargetKind


def test_the_kind_decides_emulator_only_behaviour() -> None:
    emulator = Target(TargetKind.EMULATOR, "test", {})
    account = Target(TargetKind.ACCOUNT, "test", {})
    assert (emulator.is_emulator, emulator.ingress_scheme) == (True, "http")
    assert (account.is_emulator, account.ingress_scheme) == (False, "https")


def test_a_plain_string_kind_is_taken_as_the_enum_and_a_misspelt_one_refused() -> None:
    assert Target("emulator", "test", {}).kind is TargetKind.EMULATOR  # type: ignore[arg-type]
    assert str(TargetKind.ACCOUNT) == "account"  # what any text showing the kind prints
    with pytest.raises(ValueError, match="emulatr"):
        Target("emulatr", "test", {})  # type: ignore[arg-type]
