"""The shared argument checks (tlanalytics.validate) and key handling (tlanalytics.keys)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tlanalytics import InvalidArgumentError
from tlanalytics.keys import check_key, env_keys, key_from_env, redact
from tlanalytics.validate import as_of, check_int, check_number, check_timeout, duration


@pytest.mark.parametrize("value, expected", [
    ("2025-12-01T10:00:00Z", "2025-12-01T10:00:00+00:00"),
    ("2025-12-01T10:00:00+01:00", "2025-12-01T09:00:00+00:00"),
    ("2025-12-01 10:00", "2025-12-01T10:00:00+00:00"),  # naive means UTC
    (dt.datetime(2025, 12, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2025-12-01T15:00:00+00:00"),
    (np.datetime64("2025-12-01T10:00:00"), "2025-12-01T10:00:00+00:00"),
    (pd.Timestamp("2262-04-11T00:00:00Z"), "2262-04-11T00:00:00+00:00"),
])
def test_as_of_normalises_to_utc_nanoseconds(value, expected):
    ts = as_of(value)
    assert ts == pd.Timestamp(expected)
    assert str(ts.tz) == "UTC" and ts.unit == "ns"


def test_as_of_none_is_now():
    before = pd.Timestamp.now(tz="UTC")
    assert before <= as_of(None) <= pd.Timestamp.now(tz="UTC")


@pytest.mark.parametrize("value", ["9999-01-01", "1500-01-01", pd.Timestamp("3000-01-01").as_unit("s")])
def test_as_of_outside_nanosecond_range_is_refused(value):
    with pytest.raises(InvalidArgumentError, match=r"between the years 1677 and 2262"):
        as_of(value)


@pytest.mark.parametrize("value", ["not a date", "", object(), float("nan"), pd.NaT, [2025]])
def test_as_of_rejects_non_moments_naming_the_argument(value):
    with pytest.raises(InvalidArgumentError, match=r"The value for `when` must be a datetime"):
        as_of(value, name="when")


def test_a_huge_bad_argument_gives_a_short_message():
    longest = "2025-12-01T10:00:00.123456789+05:30"  # the longest form: still read
    assert as_of(longest) == pd.Timestamp("2025-12-01T04:30:00.123456789Z")
    for value in ("x" * (1 << 20), " " * 100 + "2025-12-01", "2" * 65):
        with pytest.raises(InvalidArgumentError, match=r"must be a datetime") as caught:
            as_of(value)
        message = str(caught.value)
        assert len(message) < 250
        assert (f"(shortened, {len(value):,} characters)" in message) == (len(value) > 78)
    with pytest.raises(InvalidArgumentError, match="shortened") as caught:
        check_int("n", "9" * 500, 0)
    assert len(str(caught.value)) < 250


@pytest.mark.parametrize("value, ok", [("1h", True), (pd.Timedelta(0), True), ("soon", False), (None, False)])
def test_duration(value, ok):
    if ok:
        assert duration(value, "stall_after") == pd.Timedelta(value)
    else:
        with pytest.raises(InvalidArgumentError, match="`stall_after` must be a duration"):
            duration(value, "stall_after")


@pytest.mark.parametrize("value, low, high, ok", [
    (1, 1, 50, True), (50, 1, 50, True), (0, 1, 50, False), (51, 1, 50, False), (True, 0, None, False),
    (2.0, 0, None, False), (10**30, 0, None, True), (-1, 0, None, False), (0, 0, 0, True), (1, 0, 0, False),
])
def test_check_int(value, low, high, ok):
    if ok:
        assert check_int("n", value, low, high) == value
    else:
        with pytest.raises(InvalidArgumentError, match="The value for `n` must be an integer"):
            check_int("n", value, low, high)


@pytest.mark.parametrize("value, positive, allow_none, ok", [
    (0.5, True, False, True), (0, True, False, False), (0, False, False, True), (-0.1, False, False, False),
    (float("inf"), True, False, False), (None, True, True, True), (None, True, False, False), (True, True, False, False),
])
def test_check_number(value, positive, allow_none, ok):
    if ok:
        assert check_number("x", value, positive=positive, allow_none=allow_none) == value
    else:
        with pytest.raises(InvalidArgumentError, match="The value for `x` must be a"):
            check_number("x", value, positive=positive, allow_none=allow_none)


def test_check_timeout():
    assert check_timeout(3) == 3.0 and check_timeout((1, 2)) == (1.0, 2.0)
    for bad in [(1, 2, 3), (), (0, 1), "3", None]:
        with pytest.raises(InvalidArgumentError, match="`timeout`"):
            check_timeout(bad)


def test_key_from_env_precedence_and_blanks(monkeypatch):
    monkeypatch.setenv("TWELVELABS_API_KEY", "  ")
    monkeypatch.setenv("TWELVE_LABS_API_KEY", "second-key")
    assert key_from_env() == "second-key"
    monkeypatch.setenv("TWELVELABS_API_KEY", "first-key")
    assert key_from_env() == "first-key"
    assert sorted(env_keys()) == ["first-key", "second-key"]
    monkeypatch.delenv("TWELVELABS_API_KEY")
    monkeypatch.delenv("TWELVE_LABS_API_KEY")
    assert key_from_env() is None and env_keys() == []


def test_redact_raw_encoded_and_environment(monkeypatch):
    monkeypatch.setenv("TWELVELABS_API_KEY", "env-secret-1")
    key = "tlk_a/b+c d"
    text = f"raw {key} path {'tlk_a%2Fb%2Bc%20d'} form {'tlk_a%2Fb%2Bc+d'} env env-secret-1 none"
    out = redact(text, key)
    assert key not in out and "tlk_a%2F" not in out and "env-secret-1" not in out
    assert out.endswith("none") and out.count("***") == 4
    assert redact(text, key, env=False).count("env-secret-1") == 1
    assert redact(None, key) is None
    assert redact("abc", "abc", env=False, mark="<hidden>") == "<hidden>"  # a given key is removed whatever its length


@pytest.mark.parametrize("bad", [None, 12, "", "  ", "has space", "caf\u00e9", "tab\tkey"])
def test_check_key_refuses_without_echo(bad):
    with pytest.raises(InvalidArgumentError) as info:
        check_key(bad)
    if isinstance(bad, str) and bad.strip():
        assert bad.strip() not in str(info.value)


def test_check_key_strips():
    assert check_key("  tlk_123 \n") == "tlk_123"
