from __future__ import annotations

import pytest
from tasknote.settings import SettingsError, from_env

URL = "postgresql://db.example/tasknote"


def test_defaults():
    s = from_env({"DATABASE_URL": URL})
    assert (s.log_level, s.feature_beta, s.port, s.max_upload_bytes, s.redis_url) == (
        "INFO",
        False,
        8000,
        10 * 1024 * 1024,
        "",
    )
    assert (s.graceful_timeout_seconds, s.idempotency_ttl_seconds) == (20.0, 24 * 3600)


def test_values_are_parsed():
    s = from_env(
        {
            "DATABASE_URL": URL,
            "LOG_LEVEL": "debug",
            "FEATURE_BETA": "true",
            "REDIS_URL": "redis://c:6379/0",
            "GRACEFUL_TIMEOUT_SECONDS": "2.5",
            "IDEMPOTENCY_TTL_SECONDS": "3600",
        }
    )
    assert (s.log_level, s.feature_beta, s.graceful_timeout_seconds, s.idempotency_ttl_seconds) == (
        "DEBUG",
        True,
        2.5,
        3600,
    )


def test_every_bad_value_gets_its_own_sentence():
    with pytest.raises(SettingsError) as err:
        from_env(
            {
                "DATABASE_URL": "mysql://secret-pass@x/y",
                "LOG_LEVEL": "loud",
                "FEATURE_BETA": "maybe",
                "PORT": "0",
                "GRACEFUL_TIMEOUT_SECONDS": "soon",
                "MAX_UPLOAD_BYTES": "-1",
            }
        )
    problems = err.value.problems
    assert len(problems) == 6
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got 'loud'" in problems
    assert "FEATURE_BETA must be one of true, false, 1, 0; got 'maybe'" in problems
    assert any(p.startswith("PORT must be an integer between 1 and 65535") for p in problems)
    assert not any("secret-pass" in p for p in problems), "a URL may carry a password: never echoed"


def test_database_url_is_required():
    with pytest.raises(SettingsError) as err:
        from_env({})
    assert err.value.problems == ["DATABASE_URL is required (e.g. postgresql://HOST:PORT/...)"]
