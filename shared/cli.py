"""`goalflow`: the command line installed with goalflow."""

import typer
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from shared.db import MIGRATIONS, make_engine
from shared.settings import settings

app = typer.Typer(help="goalflow's command line.", no_args_is_help=True)
database = typer.Typer(help="goalflow's database (GOALFLOW_DATABASE_URL).", no_args_is_help=True)
app.add_typer(database, name="db")


@database.command()
def upgrade() -> None:
    """Bring the database to the newest migration (the API and the worker do it when they start)."""
    url = settings().database_url
    make_engine(url).dispose()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    typer.echo(f"{make_url(url).render_as_string()}: at migration {head}")
