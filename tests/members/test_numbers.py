from hypothesis import given
from hypothesis import strategies as st

from members.numbers import is_valid_member_number, luhn_check_digit, new_member_number


def test_luhn_check_digit_known_value() -> None:
    # 7992739871 is the textbook Luhn example with check digit 3.
    assert luhn_check_digit("7992739871") == "3"


def test_new_numbers_are_valid_and_not_sequential() -> None:
    numbers = [new_member_number() for _ in range(200)]
    assert all(is_valid_member_number(n) for n in numbers)
    assert len(set(numbers)) == 200
    ints = sorted(int(n) for n in numbers)
    assert any(b - a > 1000 for a, b in zip(ints, ints[1:], strict=False))


@given(st.integers(min_value=10**8, max_value=10**9 - 1), st.integers(0, 9), st.integers(1, 9))
def test_a_single_wrong_digit_is_detected(body: int, position: int, delta: int) -> None:
    number = str(body) + luhn_check_digit(str(body))
    digits = list(number)
    digits[position] = str((int(digits[position]) + delta) % 10)
    mutated = "".join(digits)
    assert not is_valid_member_number(mutated)
