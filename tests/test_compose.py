"""docker-compose.yml cannot run here (no Docker engine); this keeps it
parseable and in step with the code: every dependency exists, the search
attributes are the ones the workflow uses, and the services get the settings
the code reads."""

from pathlib import Path

import pytest
import yaml

from shared.contracts import SEARCH_ATTRIBUTES

pytestmark = pytest.mark.unit

COMPOSE = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_service_has_an_image_and_existing_dependencies() -> None:
    assert {"temporal", "temporal-ui", "search-attributes", "api", "worker"} <= set(SERVICES)
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        assert set(service.get("depends_on") or {}) <= set(SERVICES), name


def test_the_search_attributes_registered_are_the_workflows() -> None:
    script = SERVICES["search-attributes"]["command"][0]
    types = {"KEYWORD": "Keyword", "INT": "Int", "KEYWORD_LIST": "KeywordList"}
    for key in SEARCH_ATTRIBUTES:
        assert f"{key.name}={types[key.indexed_value_type.name]}" in script


def test_api_and_worker_reach_temporal_and_postgres() -> None:
    for name in ("api", "worker"):
        env = SERVICES[name]["environment"]
        assert env["GOALFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["GOALFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert SERVICES["worker"]["command"] == ["python", "-m", "worker.main"]
    assert SERVICES["api"]["command"][:3] == ["python", "-m", "api"]
    assert SERVICES["api"]["environment"]["GOALFLOW_AUTH"] == "on"
    assert SERVICES["temporal"]["environment"]["DB"] == "postgres12"
