"""Identifiers. Automation and contact ids are restricted to a safe alphabet so
that an enrollment id built from them reads well in the Temporal UI and in URLs,
and cannot be ambiguous."""

import re
import uuid
from typing import Annotated

from pydantic import Field

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]


def is_id(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(ID_PATTERN, value) is not None


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def enrollment_id(automation_id: str, contact_id: str, seq: int) -> str:
    """Also the Temporal workflow id: `nurture.c42.1` is contact c42's first
    enrollment in automation `nurture`."""
    return f"{automation_id}.{contact_id}.{seq}"
