"""Segments and lists in the database, on SQLite and PostgreSQL: the facts a
condition reads, paging the contacts that meet a segment, and a list's members
by key (what bulk enrollment reads)."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.domain.conditions import Condition, EventHistory
from shared.store import lists, segments
from shared.store.db import Contact, ContactList, EventRow, ListMember, utcnow

pytestmark = pytest.mark.db

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
NOW = utcnow()


def contacts(session: Session, count: int, **fields: Any) -> list[str]:
    ids = [f"c{i:05d}" for i in range(count)]
    session.add_all(Contact(id=i, created_at=NOW, **fields) for i in ids)
    return ids


def custom(session: Session, contact: str, name: str, value: Any = None, days_ago: float = 0) -> None:
    data = {"name": name} if value is None else {"name": name, "value": value}
    when = NOW - timedelta(days=days_ago)
    session.add(
        EventRow(
            id=uuid.uuid4().hex,
            contact_id=contact,
            type="custom",
            occurred_at=when,
            data=data,
            received_at=when,
        )
    )


def test_event_history_counts_by_name_value_and_window(engine: Engine) -> None:
    with Session(engine) as session:
        (ada,) = contacts(session, 1)
        for value, days in (("pro", 1), ("pro", 40), ("free", 2), (2, 3), (None, 0)):
            custom(session, ada, "signup", value, days)
        custom(session, ada, "login")
        session.add(EventRow(id="tag", contact_id=ada, type="tag.added", occurred_at=NOW, data={"tag": "signup"},
                             received_at=NOW))  # fmt: skip
        session.commit()
        asked = {
            "all signups": EventHistory(event="signup"),
            "pro": EventHistory(event="signup", value="pro"),
            "pro this month": EventHistory(event="signup", value="pro", within=timedelta(days=30)),
            "a number": EventHistory(event="signup", value=2),
            "this week": EventHistory(event="signup", within=timedelta(days=7)),
            "never": EventHistory(event="cancel"),
        }
        facts = segments.facts(session, [ada, "nobody"], events=list(asked.values()), now=NOW)
    assert set(facts) == {ada}
    assert {name: facts[ada].counts[h] for name, h in asked.items()} == {
        "all signups": 5, "pro": 2, "pro this month": 1, "a number": 1, "this week": 4, "never": 0,
    }  # fmt: skip


def test_a_segment_pages_its_contacts_by_key_however_the_pages_fall(engine: Engine) -> None:
    with Session(engine) as session:
        ids = contacts(session, segments.BATCH + 30)
        session.add(ContactList(id="news", name="News", created_at=NOW))
        for i, contact in enumerate(ids):
            if i % 3 == 0:
                session.get(Contact, contact).tags = ["vip"]  # type: ignore[union-attr]
            if i % 5 == 0:
                session.add(ListMember(list_id="news", contact_id=contact, joined_at=NOW))
            if i % 7 == 0:
                custom(session, contact, "visit")
                custom(session, contact, "visit")
        session.commit()
        cases = {
            "vip": ({"tag": "vip"}, {c for i, c in enumerate(ids) if i % 3 == 0}),
            "vip on the list": (
                {"all": [{"tag": "vip"}, {"list": "news"}]},
                {c for i, c in enumerate(ids) if i % 15 == 0},
            ),
            "twice, or not on the list": (
                {"any": [{"event": "visit", "count": {"gte": 2}}, {"not": {"list": "news"}}]},
                {c for i, c in enumerate(ids) if i % 7 == 0 or i % 5 != 0},
            ),
            "nobody": ({"attribute": "plan", "value": "pro"}, set()),
        }
        for name, (raw, expected) in cases.items():
            segment = CONDITION.validate_python(raw)
            for limit in (7, segments.BATCH + 1):
                paged: list[str] = []
                after = None
                while True:
                    page = segments.page_matching(session, segment, after, limit, now=NOW)
                    paged.extend(page)
                    if len(page) < limit:
                        break
                    after = page[-1]
                assert paged == sorted(expected), (name, limit)
            assert segments.matches(session, ids[15], segment) is (ids[15] in expected)
        assert not segments.matches(session, "nobody", CONDITION.validate_python({"not": {"tag": "x"}}))


def test_a_lists_members_page_by_contact_id(engine: Engine) -> None:
    with Session(engine) as session:
        ids = contacts(session, 25)
        session.add(ContactList(id="news", name="News", created_at=NOW))
        session.commit()
        events = [lists.join(session, "news", c) for c in reversed(ids)]
        assert lists.join(session, "news", ids[0]) == []  # A member already: no event.
        session.commit()
        assert all(len(e) == 1 and e[0].type == "list.joined" for e in events)
        pages, after = [], None
        while page := lists.members_after(session, "news", after, 10):
            pages.append(page)
            after = page[-1]
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [c for p in pages for c in p] == ids
        (left,) = lists.leave(session, "news", ids[3])
        session.commit()
        assert (left.type, left.data) == ("list.left", {"list_id": "news"})
        assert lists.member_counts(session, ["news"]) == {"news": 24}
        assert lists.lists_of(session, ids[3]) == [] and lists.lists_of(session, ids[4]) == ["news"]
