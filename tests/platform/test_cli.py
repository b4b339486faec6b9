import sqlalchemy as sa

from app.extensions import db
from app.identity.models import AdminUser, Role


def test_users_create_makes_the_first_admin(app, auth):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--username", "root", "--password", "a long password"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.username == "root"))
    assert user.role is Role.ADMIN
    assert auth.login("root", "a long password").status_code == 200


def test_users_create_says_why_it_refuses(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--username", "root", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
