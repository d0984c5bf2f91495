"""`goalflow`: the command line installed with goalflow."""

import typer
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import Session

from shared.domain.errors import NotFound
from shared.settings import settings
from shared.store import keys as api_keys
from shared.store.db import MIGRATIONS, make_engine

app = typer.Typer(help="goalflow's command line.", no_args_is_help=True)
database = typer.Typer(help="goalflow's database (GOALFLOW_DATABASE_URL).", no_args_is_help=True)
app.add_typer(database, name="db")
keys = typer.Typer(help="API keys, stored hashed (in GOALFLOW_DATABASE_URL).", no_args_is_help=True)
app.add_typer(keys, name="keys")


@database.command()
def upgrade() -> None:
    """Bring the database to the newest migration (the API and the worker do it when they start)."""
    url = settings().database_url
    make_engine(url).dispose()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    typer.echo(f"{make_url(url).render_as_string()}: at migration {head}")


def _session() -> Session:
    return Session(make_engine(settings().database_url), expire_on_commit=False)


@keys.command()
def create(
    scope: str = typer.Option(
        ..., help="admin (everything), events (an event forwarder), or read (every GET)"
    ),
    name: str | None = typer.Option(None, help="what the key is for"),
) -> None:
    """Make a key. It is printed once, alone on the last line."""
    if scope not in api_keys.SCOPES:
        raise typer.BadParameter(f"one of {', '.join(api_keys.SCOPES)}", param_hint="--scope")
    with _session() as session:
        row, key = api_keys.create(session, scope, name)
    typer.echo(f"created {row.id} (scope {scope}{f', {name}' if name else ''}); the key, shown this once:")
    typer.echo(key)


@keys.command("list")
def list_keys() -> None:
    """The keys: id, scope, name, made, revoked."""
    with _session() as session:
        for row in api_keys.all_keys(session):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            typer.echo(
                f"{row.id}\t{row.scope}\t{row.name or '-'}\t{row.created_at:%Y-%m-%d %H:%M}\t{revoked}"
            )


@keys.command()
def revoke(key_id: str = typer.Argument(..., help="the key's id, as `goalflow keys list` shows it")) -> None:
    """Revoke a key: the API refuses it within 10 seconds."""
    with _session() as session:
        try:
            api_keys.revoke(session, key_id)
        except NotFound as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(1) from None
    typer.echo(f"revoked {key_id}")
