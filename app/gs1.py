"""GS1 identifiers: the mod-10 check digit, GTIN-14 and SSCC-18."""
from __future__ import annotations


def check_digit(body: str) -> int:
    """GS1 mod-10 check digit of the digits before it (weights 3,1,3,... from the right)."""
    if not (body.isascii() and body.isdigit()):
        raise ValueError("GS1 numbers are digits only")  # ASCII: isdigit() admits "²" and full-width digits
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid(number: str) -> bool:
    return len(number) >= 2 and number.isascii() and number.isdigit() and check_digit(number[:-1]) == int(number[-1])


def normalize_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as GTIN-14 (left-padded with zeros); ValueError when it is not valid."""
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 12, 13, 14):
        raise ValueError("a GTIN has 8, 12, 13 or 14 digits")
    if not is_valid(digits):
        raise ValueError("the GTIN's check digit is wrong")
    return digits.zfill(14)


def sscc(*, extension: int, company_prefix: str, serial_reference: int) -> str:
    """SSCC-18: extension digit, GS1 company prefix, serial reference, check digit."""
    if not (0 <= extension <= 9):
        raise ValueError("the extension digit is 0-9")
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 12:
        raise ValueError("a GS1 company prefix has 6 to 12 digits")
    width = 16 - len(company_prefix)
    if not 0 <= serial_reference < 10**width:
        raise ValueError(f"the serial reference must fit in {width} digits")
    body = f"{extension}{company_prefix}{serial_reference:0{width}d}"
    return body + str(check_digit(body))
