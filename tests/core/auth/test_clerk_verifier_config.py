"""ClerkVerifier from the server's ``CLERK_*`` settings: which key mode, and configuration errors naming the variable."""

from __future__ import annotations

import pytest

from credits_core.auth import DEFAULT_JWKS_URL, ClerkVerifier
from credits_core.config import load_settings
from credits_core.errors import ConfigError
from tests.core.auth.conftest import rejected

# -- configuration --------------------------------------------------------------


def from_env(env: dict[str, str]) -> ClerkVerifier | None:
    """The verifier the server builds from these ``CLERK_*`` variables (one Settings for all)."""
    return ClerkVerifier.from_settings(load_settings(env))


def test_from_env_none_without_keys():
    assert from_env({}) is None
    assert from_env({"CLERK_JWT_KEY": " ", "CLERK_SECRET_KEY": ""}) is None


def test_from_env_secret_uses_jwks(clerk):
    v = from_env(
        {
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_JWKS_URL": clerk.url,
            "CLERK_AUTHORIZED_PARTIES": " https://a.example , ,http://localhost:8501 ",
        }
    )
    assert v is not None
    assert v.verify(clerk.mint(azp="http://localhost:8501")).user_id == "user_1"
    assert "not an authorized party" in rejected(v, clerk.mint(azp="https://b.example")).message
    assert clerk.fetch_count == 1


def test_from_env_default_jwks_url():
    v = from_env({"CLERK_SECRET_KEY": "sk_test_x"})
    assert v is not None and v._keys._jwks_url == DEFAULT_JWKS_URL == "https://api.clerk.com/v1/jwks"


def test_from_env_pem_wins_and_is_networkless(clerk):
    escaped = clerk.public_pem().strip().replace("\n", "\\n")  # as often found in .env files
    v = from_env(
        {"CLERK_JWT_KEY": escaped, "CLERK_SECRET_KEY": clerk.secret_key, "CLERK_JWKS_URL": clerk.url}
    )
    assert v is not None
    assert v.verify(clerk.mint()).user_id == "user_1"
    one_line = from_env({"CLERK_JWT_KEY": clerk.public_pem().replace("\n", "")})
    assert one_line is not None and one_line.verify(clerk.mint()).user_id == "user_1"
    assert clerk.request_count == 0


@pytest.mark.parametrize(
    "value",
    [
        "not a pem at all sk_live_secretish",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    ],
)
def test_from_env_bad_pem_names_variable_not_value(value):
    with pytest.raises(ConfigError, match="CLERK_JWT_KEY") as info:
        from_env({"CLERK_JWT_KEY": value})
    assert value not in str(info.value)
    assert "secretish" not in str(info.value)
    assert info.value.__cause__ is None


def test_from_env_ec_key_rejected():
    from cryptography.hazmat.primitives import serialization

    from tests.standins.clerk_jwks import ec_key

    pem = (
        ec_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="CLERK_JWT_KEY"):
        from_env({"CLERK_JWT_KEY": pem.decode()})


def test_from_env_bad_jwks_url():
    with pytest.raises(ConfigError, match="CLERK_JWKS_URL"):
        from_env({"CLERK_SECRET_KEY": "sk", "CLERK_JWKS_URL": "file:///etc/passwd"})


def test_constructor_needs_a_key():
    with pytest.raises(ValueError):
        ClerkVerifier()
    with pytest.raises(ValueError, match="jwt_key_pem"):
        ClerkVerifier(jwt_key_pem="nope")
