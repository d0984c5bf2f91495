"""The Temporal client, with the pydantic data converter both sides need."""

import dataclasses
from typing import Self

from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, SerializationContext
from temporalio.envconfig import ClientConfig, ClientConnectConfig

from shared.settings import settings


@dataclasses.dataclass(frozen=True)
class ContextFreeDataConverter(DataConverter):
    """The pydantic converter, minus a cost: the SDK asks for a copy per
    serialization context (each local activity's payloads), and each copy
    builds a new payload converter. None of ours reads the context."""

    def with_context(self, context: SerializationContext) -> Self:
        return self


data_converter = ContextFreeDataConverter(payload_converter_class=PydanticPayloadConverter)
DEFAULT_ADDRESS = "localhost:7233"


def connect_config(address: str | None = None, namespace: str | None = None) -> ClientConnectConfig:
    """How to reach Temporal, by Temporal's own conventions (`TEMPORAL_ADDRESS`,
    `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, a profile file
    named by `TEMPORAL_CONFIG_FILE` and `TEMPORAL_PROFILE`), where
    `GOALFLOW_TEMPORAL_ADDRESS` and `…_NAMESPACE` win: so a shell's
    `TEMPORAL_ADDRESS` never redirects `make run`. Then `localhost:7233`, `default`."""
    config = ClientConfig.load_client_connect_config()
    config["target_host"] = (
        address or settings().temporal_address or config.get("target_host") or DEFAULT_ADDRESS
    )
    config["namespace"] = namespace or settings().temporal_namespace or config.get("namespace") or "default"
    return config


async def connect(address: str | None = None, namespace: str | None = None) -> Client:
    return await Client.connect(**connect_config(address, namespace), data_converter=data_converter)
