"""Public member numbers: 9 random digits and a Luhn check digit, never sequential."""

import secrets


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_member_number(number: str) -> bool:
    return (
        len(number) == 10
        and number.isdigit()
        and number[0] != "0"
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_member_number() -> str:
    body = str(secrets.randbelow(9 * 10**8) + 10**8)  # 9 digits, no leading zero
    return body + luhn_check_digit(body)
