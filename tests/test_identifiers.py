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
    assert id_number_check_char("11010519491231002") == "X"  # the example of GB 11643
    assert not id_number_valid("１１０１０５１９４９１２３１００２X")  # full-width digits are not a number
    assert not id_number_valid("11010519491231002")  # too short


def test_id_number_check_char_follows_the_weights_for_many_numbers() -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for n in range(0, 10**17, 10**17 // 5003):
        first17 = f"{n:017d}"
        expected = "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
        assert id_number_check_char(first17) == expected
