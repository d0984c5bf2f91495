"""API keys on every route but the public ones (SPEC §8): `Authorization:
Bearer <key>`. A missing or unknown key is 401, a key without the route's
scope 403. Each route names its scope with `guarded(scope)`."""

import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.errors import UNAVAILABLE, Responses, error
from shared.store import keys
from shared.store.db import run_db

_bearer = HTTPBearer(auto_error=False, description="An API key, from `goalflow keys create --scope S`")
# A key checked is trusted this long: a revoked one is refused within it.
KEY_CACHE_SECONDS = 10.0


class KeyRing:
    """Checks keys against the database, and remembers an active key a moment."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._known: dict[str, tuple[str, float]] = {}

    async def scope_of(self, key: str) -> str | None:
        """The scope of an active key; None for an unknown or revoked one."""
        hashed = keys.digest(key)
        known = self._known.get(hashed)
        if known and known[1] > time.monotonic():
            return known[0]

        def read() -> str | None:
            with Session(self.engine) as session:
                row = keys.active(session, key)
                return row.scope if row else None

        scope = await run_db(self.engine, read)
        if scope is not None:  # Only real keys: unknown ones would grow this without bound.
            self._known[hashed] = (scope, time.monotonic() + KEY_CACHE_SECONDS)
        return scope


Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _needs(scope: str) -> Any:
    async def check(request: Request, credentials: Credentials) -> None:
        if not request.app.state.auth:
            return
        if credentials is None:
            raise HTTPException(401, "an API key is required: Authorization: Bearer <key>", _CHALLENGE)
        held = await request.app.state.keys.scope_of(credentials.credentials)
        if held is None:
            raise HTTPException(401, "unknown or revoked API key", _CHALLENGE)
        if not keys.allows(held, scope):
            raise HTTPException(403, f"this key's scope is '{held}'; this needs '{scope}' (or 'admin')")

    return Depends(check)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_REFUSALS: Responses = {
    **error(401, "No API key, or an unknown or revoked one"),
    **error(403, "The API key's scope does not allow this route"),
    # Checking the key reads the database, and every guarded route uses it or Temporal.
    **UNAVAILABLE,
}


def guarded(
    scope: str, responses: Responses | None = None, dependencies: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """A route's keyword arguments: the scope it needs (checked before its other
    `dependencies`), and its 401, 403 and 503 besides its other `responses` in the OpenAPI."""
    return {"dependencies": [_needs(scope), *dependencies], "responses": {**_REFUSALS, **(responses or {})}}


def document(app: FastAPI, required: bool) -> None:
    """Without keys (GOALFLOW_AUTH=off) the OpenAPI says so: no security scheme, and no
    401 or 403 on the routes that asked for a key."""
    if required:
        return
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = plain()
        spec.get("components", {}).pop("securitySchemes", None)
        for operations in spec["paths"].values():
            for operation in operations.values():
                # Only keyed routes lose their 401: a provider's webhook refuses an unsigned post either way.
                if operation.pop("security", None) is not None:
                    for status in ("401", "403"):
                        operation["responses"].pop(status, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
