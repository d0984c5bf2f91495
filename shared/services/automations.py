"""Automations: versions are immutable; saving a definition publishes the next
one, and running enrollments stay on theirs. Archiving stops new entries."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from shared.domain.conditions import Condition
from shared.domain.definition import (
    Automation,
    DefinitionError,
    Kind,
    Problem,
    Step,
    parse_definition,
    warnings,
)
from shared.domain.errors import Conflict, NotFound
from shared.domain.ids import is_id, new_id
from shared.domain.paging import Listed, Page, one_page
from shared.domain.steps.other_automations import self_references
from shared.domain.triggers import Trigger
from shared.domain.windows import SendWindow
from shared.services.context import Services
from shared.store.db import AutomationRow, AutomationVersion, utcnow
from shared.store.paging import paged
from shared.store.triggers import index


class AutomationView(BaseModel):
    """One version of an automation, its definition's fields as saved, and where the automation stands."""

    id: str
    version: int
    latest_version: int
    archived: bool
    # Paused: no new entries, and sends to contacts held until it resumes (`shared.services.pauses`).
    paused: bool = False
    created_at: datetime
    name: str
    reentry: Literal["never", "after_exit"]
    kind: Kind = "automation"
    # A sequence's: the address its emails go out from.
    sender: str | None = None
    triggers: list[Trigger] = []
    segment: Condition | None = None
    send_window: SendWindow | None = None
    steps: list[Step] = Field(min_length=1)
    # Allowed but may surprise: templates that print a contact field without a
    # default skip the contacts that lack it.
    warnings: list[str] = []


def _view(row: AutomationRow, version: AutomationVersion) -> AutomationView:
    view = AutomationView.model_validate(
        {
            "id": row.id,
            "version": version.version,
            "latest_version": row.latest_version,
            "archived": row.archived,
            "paused": row.paused,
            "created_at": version.created_at,
            **version.definition,
        }
    )
    definition = Automation.model_construct(steps=view.steps)
    return view.model_copy(update={"warnings": warnings(definition)})


def _checked(automation_id: str, automation: Automation) -> None:
    """The check that needs the automation's id: no step names the automation itself."""
    problems = self_references(automation_id, automation.steps)
    if problems:
        raise DefinitionError(problems)


def _split(raw: dict[str, Any]) -> tuple[str | None, Automation, dict[str, Any]]:
    """The `id` in a body (None when absent or null), the definition, and the
    definition as saved: validated, with durations in canonical form."""
    rest = {k: v for k, v in raw.items() if k != "id"}
    automation_id = raw.get("id")
    if automation_id is not None and not is_id(automation_id):
        raise DefinitionError([Problem(loc=["id"], msg="id is 1-64 letters, digits, '-' or '_'")])
    automation = parse_definition(rest)
    return automation_id, automation, automation.model_dump(mode="json", by_alias=True, exclude_none=True)


def _latest(session: Session, automation_id: str) -> tuple[AutomationRow, AutomationVersion]:
    row = session.get(AutomationRow, automation_id)
    if row is None:
        raise NotFound("automation", automation_id)
    version = session.get(AutomationVersion, (automation_id, row.latest_version))
    assert version is not None
    return row, version


async def create(services: Services, raw: dict[str, Any]) -> AutomationView:
    """Save a definition as version 1; its `id` is generated when absent."""
    given, automation, definition = _split(raw)
    automation_id = given or new_id("au")
    _checked(automation_id, automation)

    def save(session: Session) -> AutomationView:
        if session.get(AutomationRow, automation_id) is not None:
            raise Conflict(
                f"automation '{automation_id}' exists; PUT /automations/{automation_id} "
                "publishes a new version"
            )
        now = utcnow()
        row = AutomationRow(id=automation_id, latest_version=1, created_at=now)
        version = AutomationVersion(
            automation_id=automation_id, version=1, definition=definition, created_at=now
        )
        session.add(row)
        session.flush()
        session.add(version)
        index(session, automation_id, 1, automation)
        session.commit()
        return _view(row, version)

    return await services.db(save)


async def publish(services: Services, automation_id: str, raw: dict[str, Any]) -> AutomationView:
    """Publish the next version (an `id` in `raw`, if any, is ignored). Its
    triggers fire for events stored from now on."""
    _, automation, definition = _split(raw)
    _checked(automation_id, automation)

    def save(session: Session) -> AutomationView:
        row, _ = _latest(session, automation_id)
        row.latest_version += 1
        version = AutomationVersion(
            automation_id=automation_id,
            version=row.latest_version,
            definition=definition,
            created_at=utcnow(),
        )
        session.add(row)
        session.add(version)
        index(session, automation_id, row.latest_version, automation)
        session.commit()
        return _view(row, version)

    return await services.db(save)


async def archive(services: Services, automation_id: str) -> AutomationView:
    """No new enrollments; running ones finish on their version."""

    def save(session: Session) -> AutomationView:
        row, version = _latest(session, automation_id)
        row.archived = True
        session.add(row)
        session.commit()
        return _view(row, version)

    return await services.db(save)


async def latest(services: Services, automation_id: str) -> AutomationView:
    return await services.db(lambda s: _view(*_latest(s, automation_id)))


async def version(services: Services, automation_id: str, number: int) -> AutomationView:
    def one(session: Session) -> AutomationView:
        row, _ = _latest(session, automation_id)
        found = session.get(AutomationVersion, (automation_id, number))
        if found is None:
            raise NotFound("version", f"{automation_id}/{number}")
        return _view(row, found)

    return await services.db(one)


async def listed(services: Services, page: Page) -> Listed[AutomationView]:
    """Each automation with its latest version, oldest first."""

    def rows(session: Session) -> list[tuple[AutomationRow, AutomationVersion]]:
        query = select(AutomationRow, AutomationVersion).join(
            AutomationVersion,
            (col(AutomationVersion.automation_id) == AutomationRow.id)
            & (col(AutomationVersion.version) == AutomationRow.latest_version),
        )
        return list(session.exec(paged(query, col(AutomationRow.created_at), col(AutomationRow.id), page)))

    found = one_page(await services.db(rows), page, lambda r: (r[0].created_at, r[0].id))
    return found.map(lambda r: _view(*r))
