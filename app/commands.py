"""`flask ...` commands."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.codes.cli import codes
from app.db import transaction
from app.errors import DomainError
from app.identity import service as identity
from app.identity.models import Role
from app.masterdata.commands import regions

users = AppGroup("users", help="Back-office users.")


@users.command("create")
@click.option("--username", prompt=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ADMIN.value,
              show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters (prompted when left out).")
@click.option("--display-name", default="")
def create_user(username, role, password, display_name):
    """Create a back-office user (use it to make the first admin)."""
    try:
        with transaction():
            user = identity.create_user(actor=identity.Actor.system("cli"), username=username,
                                        password=password, role=role, display_name=display_name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created {user.role.value} {user.username!r} (id {user.id})")


COMMANDS = (users, regions, codes)
