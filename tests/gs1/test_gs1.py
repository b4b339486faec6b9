import pytest

from app import gs1


@pytest.mark.parametrize("number", [
    "00012345600012",  # GTIN-14 from the GS1 General Specifications check-digit example
    "4006381333931",   # the GTIN-13 example used across GS1 documentation
    "96385074",        # GTIN-8 example
    "036000291452",    # UPC-A (GTIN-12) example
    "106141411234567897",  # SSCC example: (00) 1 0614141 123456789 7
])
def test_published_examples_have_the_right_check_digit(number):
    assert gs1.is_valid(number)
    assert gs1.check_digit(number[:-1]) == int(number[-1])


@pytest.mark.parametrize("number", ["00012345600013", "4006381333932", "96385075"])
def test_a_wrong_check_digit_is_caught(number):
    assert not gs1.is_valid(number)


def test_gtins_normalize_to_14_digits():
    assert gs1.normalize_gtin("4006381333931") == "04006381333931"
    with pytest.raises(ValueError):
        gs1.normalize_gtin("4006381333932")
    with pytest.raises(ValueError):
        gs1.normalize_gtin("40063813339")
    with pytest.raises(ValueError):
        gs1.normalize_gtin("40063813339x1")


def test_sscc_matches_the_gs1_example():
    assert gs1.sscc(extension=1, company_prefix="0614141", serial_reference=123456789) == "106141411234567897"


def test_sscc_refuses_a_serial_that_does_not_fit():
    with pytest.raises(ValueError):
        gs1.sscc(extension=0, company_prefix="061414112345", serial_reference=10**4)
