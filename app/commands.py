"""`flask ...` commands."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app import demo as demo_data
from app import demo_chain
from app.codes.cli import codes
from app.console import console
from app.consumers.cli import consumers
from app.db import transaction
from app.errors import DomainError
from app.exports.cli import exports
from app.identity import service as identity
from app.identity.models import Role
from app.masterdata.commands import regions
from app.payouts.cli import payouts
from app.platform.cli import workers
from app.points.cli import points
from app.reports.cli import reports
from app.stock.cli import stock
from app.units.cli import units
from app.warehouse.cli import warehouse
from app.webhooks.cli import webhooks
from app.wechat.sandbox.cli import wechat_sandbox

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


demo = AppGroup("demo", help="Demo data for the embedded default.")


@demo.command("seed")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the server will listen, for the links printed.")
def seed_demo(base_url):
    """Seed (or refresh) the demo brand and print where to look."""
    result = demo_data.seed()
    batch = result["batch"]
    login = {"username": "demo-admin", "password": result["password"]}
    click.echo(f"""
Matong demo data is ready (embedded default: SQLite, in-process Redis, WeChat sandbox).

  Back-office console    {base_url}/console/   (sign in as demo-admin, demo-marketer, demo-ops, demo-finance
                         or demo-auditor with the password below)
  API docs (Swagger UI)  {base_url}/docs
  OpenAPI document       {base_url}/openapi.json
  Readiness              {base_url}/readyz

  Back-office users      {", ".join(result["users"])}
  Their password         {result["password"]}{"  (new for this database)" if result["new_password"] else ""}
                         (kept in var/{demo_data.PASSWORDS_FILE}; `flask demo password` prints it again)
  Log in                 curl -s -X POST {base_url}/api/admin/auth/login \\
                           -H 'Content-Type: application/json' -d '{json.dumps(login)}'
  Code batch             {batch.batch_no}: {batch.count:,} item codes (GET /api/admin/code-batches/{batch.id})
  A code to resolve      GET {base_url}/api/admin/codes/{result["sample_code"]}
  Its trace              GET {base_url}/api/admin/trace/codes/{result["sample_code"]}
  Produced               lot {result["lot"].lot_no}: {batch.count:,} items in {result["case_count"]} cases on pallet {result["pallet_code"]},
                         received into {result["warehouse"].name}
  The recall view        GET {base_url}/api/admin/trace/lots/{result["lot"].id}
  Stock                  GET {base_url}/api/admin/stock?warehouse_id={result["warehouse"].id}

{demo_chain.summary(result["chain"], base_url)}
""")


@demo.command("password")
@click.option("--reset", is_flag=True, help="Give the demo users a new password.")
def demo_password(reset):
    """Print the demo users' password for this database (made on the first seed)."""
    if reset:
        click.echo(demo_data.reset_password())
        return
    password, new = demo_data.demo_password()
    if new:  # no seed has run against this database yet: the users get it when one does
        click.echo("(no demo users yet: `flask demo seed` creates them with this password)", err=True)
    click.echo(password)


COMMANDS = (users, console, reports, regions, codes, exports, consumers, demo, wechat_sandbox, warehouse, stock, webhooks, payouts, points,
            workers, units)
