import pytest

from app import gs1, rfid

# GS1 EPC Tag Data Standard, Appendix E (encoding example): the SGTIN-96 tag URI
# urn:epc:tag:sgtin-96:3.0614141.812345.6789 (GTIN 80614141123458, serial 6789) encodes as this hex.
TDS_EXAMPLE_HEX = "3074257BF7194E4000001A85"


def test_the_tds_worked_example_decodes():
    sgtin = rfid.decode_sgtin96(TDS_EXAMPLE_HEX)
    assert (sgtin.filter, sgtin.company_prefix, sgtin.item_reference, sgtin.serial) == (3, "0614141", "812345", 6789)
    assert sgtin.uri == "urn:epc:id:sgtin:0614141.812345.6789"
    assert sgtin.tag_uri == "urn:epc:tag:sgtin-96:3.0614141.812345.6789"
    assert sgtin.gtin == "80614141123458" and gs1.is_valid(sgtin.gtin)


def test_the_tds_worked_example_encodes():
    assert rfid.encode_sgtin96(gtin="80614141123458", company_prefix_digits=7, serial=6789, filter=3) == TDS_EXAMPLE_HEX


@pytest.mark.parametrize("prefix_digits", [6, 7, 8, 9, 10, 11, 12])
def test_every_partition_round_trips(prefix_digits):
    gtin = "04006381333931"
    hexa = rfid.encode_sgtin96(gtin=gtin, company_prefix_digits=prefix_digits, serial=rfid.MAX_SERIAL, filter=1)
    sgtin = rfid.decode_sgtin96(hexa)
    assert sgtin.gtin == gtin and sgtin.serial == rfid.MAX_SERIAL and len(sgtin.company_prefix) == prefix_digits
    assert len(sgtin.company_prefix) + len(sgtin.item_reference) == 13


def test_a_gtin_8_or_13_is_encoded_as_its_gtin_14():
    hexa = rfid.encode_sgtin96(gtin="4006381333931", company_prefix_digits=7, serial=1)
    assert rfid.decode_sgtin96(hexa).gtin == "04006381333931"


@pytest.mark.parametrize("text", [
    "3174257BF7194E4000001A85",  # header 31 is an SSCC-96, not an SGTIN-96
    "307C257BF7194E4000001A85",  # partition 7 is reserved
    "3074257BF7194E4000001A8",   # 23 digits
    "3074257BF7194E4000001A8G",  # not hex
])
def test_what_is_not_an_sgtin_96_is_refused(text):
    with pytest.raises(rfid.EpcInvalid):
        rfid.decode_sgtin96(text)


def test_encoding_refuses_a_serial_beyond_38_bits_and_a_bad_gtin():
    with pytest.raises(rfid.EpcInvalid):
        rfid.encode_sgtin96(gtin="80614141123458", company_prefix_digits=7, serial=rfid.MAX_SERIAL + 1)
    with pytest.raises(ValueError):
        rfid.encode_sgtin96(gtin="80614141123459", company_prefix_digits=7, serial=1)


def test_reads_are_sorted_into_sgtins_and_tids():
    assert rfid.parse_epc(" 3074257bf7194e4000001a85 ") == rfid.Epc("sgtin96", TDS_EXAMPLE_HEX, "80614141123458")
    assert rfid.parse_epc("E2801160200074CF085B0AD2") == rfid.Epc("tid", "E2801160200074CF085B0AD2")
    for text in ("A0801160200074CF", "E28011602", "not hex at all", "E2"):
        with pytest.raises(rfid.EpcInvalid):
            rfid.parse_epc(text)
