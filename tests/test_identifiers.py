from __future__ import annotations

from govshare.identifiers import credit_code_valid, id_number_check_char, id_number_valid


def test_credit_codes() -> None:
    # Published codes of real organisations (check characters per GB 32100).
    assert credit_code_valid("91110000802100433B")
    assert credit_code_valid("91350100M000100Y43")
    assert not credit_code_valid("91110000802100433C")
    assert not credit_code_valid("91110000802100433")
    assert not credit_code_valid("9111000080210043IB")  # I is not in the alphabet


def test_id_numbers() -> None:
    assert id_number_valid("11010519491231002X")
    assert id_number_valid("11010519491231002x")
    assert not id_number_valid("110105194912310021")
    assert id_number_check_char("13010219850317771") in "0123456789X"
