"""The Temporal client, with the pydantic data converter both sides need."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from shared.settings import settings


async def connect(address: str | None = None, namespace: str | None = None) -> Client:
    return await Client.connect(
        address or settings().temporal_address,
        namespace=namespace or settings().temporal_namespace,
        data_converter=pydantic_data_converter,
    )
