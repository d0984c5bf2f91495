from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status
from sqlmodel import Session, col, select

from api.auth import guarded
from api.deps import DbDep
from api.limits import too_large
from api.paging import PAGED, PageDep, one_page
from shared.domain.definition import DefinitionError, Problem, parse_definition
from shared.domain.errors import Conflict, NotFound
from shared.domain.ids import is_id, new_id
from shared.domain.limits import DEFINITION_BYTES, STRUCTURE_BYTES, TEMPLATE_BYTES, size
from shared.store.db import AutomationRow, AutomationVersion, utcnow
from shared.store.paging import paged

router = APIRouter(prefix="/automations", tags=["automations"])

EXAMPLE = {
    "name": "Nurture until purchase",
    "reentry": "after_exit",
    "steps": [
        {"id": "welcome", "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "..."},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {
            "id": "purchased",
            "type": "goal",
            "criteria": [{"type": "tag.added", "tag": "product purchased"}],
            "if_unmet": "wait",
            "timeout": "P30D",
            "on_timeout": "end",
        },
        {"id": "thanks", "type": "add_tag", "tag": "customer"},
    ],
}


DefinitionBody = Annotated[
    dict[str, Any],
    Body(openapi_examples={"nurture": {"summary": "Nurture until purchase", "value": EXAMPLE}}),
]
# Saving a definition: its size (api.limits.BodyLimit), then the checks of shared.domain.definition.
SAVING: dict[int | str, dict[str, Any]] = {
    **too_large(DEFINITION_BYTES, "The definition"),
    422: {
        "description": "The definition fails a check; each problem names the step and the field. "
        f"Limits: a template (subject, body) is at most {size(TEMPLATE_BYTES)}; the structure "
        f"(the steps without their content) at most {size(STRUCTURE_BYTES)}."
    },
}


def _out(row: AutomationRow, version: AutomationVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": version.version,
        "latest_version": row.latest_version,
        "archived": row.archived,
        "created_at": version.created_at,
        **version.definition,
    }


def _validated(raw: dict[str, Any]) -> dict[str, Any]:
    """The definition as saved: validated, with durations in canonical form."""
    return parse_definition(raw).model_dump(mode="json", by_alias=True, exclude_none=True)


def _latest(session: Session, automation_id: str) -> tuple[AutomationRow, AutomationVersion]:
    row = session.get(AutomationRow, automation_id)
    if row is None:
        raise NotFound("automation", automation_id)
    version = session.get(AutomationVersion, (automation_id, row.latest_version))
    assert version is not None
    return row, version


@router.post("", status_code=status.HTTP_201_CREATED, **guarded("admin", SAVING))
async def create_automation(db: DbDep, body: DefinitionBody) -> dict[str, Any]:
    """Save a definition as version 1. `id` is optional (generated when absent)."""
    raw = dict(body)
    automation_id = raw.pop("id", None)
    if automation_id is None:
        automation_id = new_id("au")
    if not is_id(automation_id):
        raise DefinitionError([Problem(loc=["id"], msg="id is 1-64 letters, digits, '-' or '_'")])
    definition = _validated(raw)

    def save(session: Session) -> dict[str, Any]:
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
        session.commit()
        return _out(row, version)

    return await db(save)


@router.put("/{automation_id}", **guarded("admin", SAVING))
async def publish_version(automation_id: str, db: DbDep, body: DefinitionBody) -> dict[str, Any]:
    """Publish the next version. Running enrollments stay on theirs."""
    raw = {k: v for k, v in body.items() if k != "id"}
    definition = _validated(raw)

    def save(session: Session) -> dict[str, Any]:
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
        session.commit()
        return _out(row, version)

    return await db(save)


@router.get("", **guarded("read", {200: PAGED}))
async def list_automations(
    db: DbDep, page: PageDep, request: Request, response: Response
) -> list[dict[str, Any]]:
    """Each automation with its latest version, oldest first."""

    def rows(session: Session) -> list[tuple[AutomationRow, AutomationVersion]]:
        query = select(AutomationRow, AutomationVersion).join(
            AutomationVersion,
            (col(AutomationVersion.automation_id) == AutomationRow.id)
            & (col(AutomationVersion.version) == AutomationRow.latest_version),
        )
        return list(session.exec(paged(query, col(AutomationRow.created_at), col(AutomationRow.id), page)))

    found = one_page(await db(rows), page, request, response, lambda r: (r[0].created_at, r[0].id))
    return [_out(row, version) for row, version in found]


@router.get("/{automation_id}", **guarded("read"))
async def get_automation(automation_id: str, db: DbDep) -> dict[str, Any]:
    return await db(lambda s: _out(*_latest(s, automation_id)))


@router.get("/{automation_id}/versions/{version}", **guarded("read"))
async def get_version(automation_id: str, version: int, db: DbDep) -> dict[str, Any]:
    def one(session: Session) -> dict[str, Any]:
        row, _ = _latest(session, automation_id)
        found = session.get(AutomationVersion, (automation_id, version))
        if found is None:
            raise NotFound("version", f"{automation_id}/{version}")
        return _out(row, found)

    return await db(one)


@router.delete("/{automation_id}", **guarded("admin"))
async def archive_automation(automation_id: str, db: DbDep) -> dict[str, Any]:
    """Archive: no new enrollments; running ones finish on their version."""

    def archive(session: Session) -> dict[str, Any]:
        row, version = _latest(session, automation_id)
        row.archived = True
        session.add(row)
        session.commit()
        return _out(row, version)

    return await db(archive)
