"""Trigger links."""

from collections.abc import Iterable

from sqlmodel import Session, col, select

from shared.store.db import Link


def known_links(session: Session, ids: Iterable[str]) -> list[str]:
    """Which of `ids` are trigger links."""
    return list(session.exec(select(Link.id).where(col(Link.id).in_(list(ids)))))
