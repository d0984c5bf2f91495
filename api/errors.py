"""The error answers in the OpenAPI, each with its body: `{"detail": "…"}`,
or for a 422 FastAPI's list of problems (`loc`, `msg`, `type`)."""

from typing import Any

from pydantic import BaseModel

from shared.domain.limits import DEFINITION_BYTES, size

Responses = dict[int | str, dict[str, Any]]


class ErrorOut(BaseModel):
    detail: str


def error(status: int, description: str) -> Responses:
    return {status: {"model": ErrorOut, "description": description}}


def invalid(description: str) -> Responses:
    """A 422 with FastAPI's own body, for the problems a route finds beyond its schema."""
    schema = {"$ref": "#/components/schemas/HTTPValidationError"}
    return {422: {"description": description, "content": {"application/json": {"schema": schema}}}}


def not_found(what: str) -> Responses:
    return error(404, f"No {what} with that id")


def conflict(why: str) -> Responses:
    return error(409, why)


def too_large(limit: int, what: str) -> Responses:
    return error(413, f"{what} is over {size(limit)}")


# What any route with a JSON body may answer before it reads the body as its model:
# bytes that are not JSON text at all (not UTF-8), and a body over the largest
# limit, refused before it is read whole (api.limits.BodyLimit).
BODY: Responses = {
    **error(400, "The body is not JSON text"),
    **too_large(DEFINITION_BYTES, "The request body"),
}
UNAVAILABLE = error(503, "Temporal or the database did not answer")


def html_page(description: str) -> Responses:
    """A 200 that is an HTML page. Routes that answer one keep JSON as their
    media type, so that their errors are documented as the JSON they are."""
    return {200: {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}}
