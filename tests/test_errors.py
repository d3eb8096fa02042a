import pytest

from ecgdesk.errors import InputError, RecordingError, check_option, check_positive, is_digits


def test_check_option_names_parameter_allowed_values_and_value() -> None:
    with pytest.raises(InputError) as info:
        check_option("to", "edf", ["wfdb", "ishne"])
    message = str(info.value)
    assert "'to'" in message and "'wfdb'" in message and "'edf'" in message


@pytest.mark.parametrize("bad", [0, -250, float("nan"), float("inf"), "abc"])
def test_check_positive_refuses(bad: object) -> None:
    with pytest.raises(InputError, match="fs"):
        check_positive("fs", bad)  # type: ignore[arg-type]


def test_recording_error_names_file_and_field() -> None:
    error = RecordingError("/x/a.dat", "magic", "expected ISHNE1.0")
    assert "/x/a.dat" in str(error) and "magic" in str(error) and "ISHNE1.0" in str(error)


@pytest.mark.parametrize(("text", "digits"), [
    ("0123456789", True), ("", False), ("12a", False), (" 12", False),
    ("\u00b9", False), ("\u00b2600", False),  # superscripts: str.isdigit says yes, int() refuses
    ("\u0661\u0661", False), ("\uff19\uff13", False),  # Arabic-Indic, full-width: int() reads them
])
def test_is_digits_means_ascii_digits(text: str, digits: bool) -> None:
    assert is_digits(text) is digits
