"""The Temporal client, with the pydantic data converter both sides need."""

import dataclasses
from typing import Self

from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, SerializationContext

from shared.settings import settings


@dataclasses.dataclass(frozen=True)
class ContextFreeDataConverter(DataConverter):
    """The pydantic converter, minus a cost: the SDK asks for a copy per
    serialization context (each local activity's payloads), and each copy
    builds a new payload converter. None of ours reads the context."""

    def with_context(self, context: SerializationContext) -> Self:
        return self


data_converter = ContextFreeDataConverter(payload_converter_class=PydanticPayloadConverter)


async def connect(address: str | None = None, namespace: str | None = None) -> Client:
    return await Client.connect(
        address or settings().temporal_address,
        namespace=namespace or settings().temporal_namespace,
        data_converter=data_converter,
    )
