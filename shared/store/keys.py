"""API keys with scopes (SPEC §8): `admin` (everything), `events` (what an
event forwarder needs), `read` (every GET). A key is shown once; its SHA-256 is kept."""

import hashlib
import secrets

from sqlmodel import Session, col, select

from shared.domain.errors import NotFound
from shared.domain.ids import new_id
from shared.store.db import ApiKey, utcnow

SCOPES = ("admin", "events", "read")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(session: Session, scope: str, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key: its record, and the key itself, which is not kept."""
    if scope not in SCOPES:
        raise ValueError(f"scope is one of {', '.join(SCOPES)}, not '{scope}'")
    key = "gf_" + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id("key"), name=name, scope=scope, hash=digest(key), created_at=utcnow())
    session.add(row)
    session.commit()
    return row, key


def active(session: Session, key: str) -> ApiKey | None:
    """The unrevoked key `key` is, if any."""
    query = select(ApiKey).where(ApiKey.hash == digest(key), col(ApiKey.revoked_at).is_(None))
    return session.exec(query).first()


def all_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))))


def revoke(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("key", key_id)
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)
    session.commit()
    return row


def allows(held: str, needed: str) -> bool:
    return held == "admin" or held == needed
