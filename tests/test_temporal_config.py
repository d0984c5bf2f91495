"""How goalflow reaches Temporal: Temporal's own conventions, where goalflow's
own variables win (a shell's TEMPORAL_ADDRESS never redirects `make run`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import settings
from shared.temporal import connect_config

pytestmark = pytest.mark.unit

VARIABLES = ("GOALFLOW_TEMPORAL_ADDRESS", "GOALFLOW_TEMPORAL_NAMESPACE", "TEMPORAL_ADDRESS",
             "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE")  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "none.toml"))  # Not the user's own.
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def test_nothing_set_is_the_local_default(env: pytest.MonkeyPatch) -> None:
    config = connect_config()
    assert (config["target_host"], config["namespace"]) == ("localhost:7233", "default")
    assert "api_key" not in config and "tls" not in config


def test_temporal_cloud_by_temporals_own_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_ADDRESS", "acme.a1b2c.tmprl.cloud:7233")
    env.setenv("TEMPORAL_NAMESPACE", "acme.a1b2c")
    env.setenv("TEMPORAL_API_KEY", "secret")
    config = connect_config()
    assert (config["target_host"], config["namespace"]) == ("acme.a1b2c.tmprl.cloud:7233", "acme.a1b2c")
    assert (config["api_key"], config["tls"]) == ("secret", True)


def test_goalflows_own_variables_win(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    env.setenv("TEMPORAL_NAMESPACE", "theirs")
    env.setenv("GOALFLOW_TEMPORAL_ADDRESS", "127.0.0.1:17233")
    env.setenv("GOALFLOW_TEMPORAL_NAMESPACE", "ours")
    config = connect_config()
    assert (config["target_host"], config["namespace"]) == ("127.0.0.1:17233", "ours")


def test_a_profile_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        '[profile.default]\naddress = "a:7233"\n\n'
        '[profile.staging]\naddress = "staging:7233"\nnamespace = "staging"\n'
        '[profile.staging.tls]\nserver_name = "staging.example.com"\n'
    )
    env.setenv("TEMPORAL_CONFIG_FILE", str(profiles))
    env.setenv("TEMPORAL_PROFILE", "staging")
    config = connect_config()
    assert (config["target_host"], config["namespace"]) == ("staging:7233", "staging")
    assert config["tls"].domain == "staging.example.com"  # type: ignore[union-attr]
