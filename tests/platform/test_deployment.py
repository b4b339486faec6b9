"""The container stack, checked without a Docker daemon: docker-compose.yml, the Dockerfile, .dockerignore.

CI has no Docker, so these parse the files (PyYAML, which reads YAML anchors and `<<` merges as compose
does) and hold them to the rules docs/operations.md relies on.
"""
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from config import WECHAT_REQUIRED_ENV, Production

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)
REFERENCE = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*)(?::?[?-][^}]*)?\}$")
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|_KEYS?$|APIV3_KEY|TOKEN)")
EXACT_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+[A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$")


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "NAME=value" form
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def strings(node):
    """Every string in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def test_the_stack_has_the_web_app_every_worker_and_its_servers():
    commands = {" ".join(SERVICES[name].get("command", [])) for name in APP_SERVICES}
    for worker in ("flask codes work", "flask webhooks work", "flask payouts work", "flask consumers persist-scans"):
        assert worker in commands
    assert any("flask payouts reconcile" in command and "flask points expire" in command for command in commands)
    assert {"db", "redis", "migrate", "app"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_restart_policy_and_a_health_check(name):
    service = SERVICES[name]
    assert service.get("restart") in {"always", "unless-stopped"} or \
        re.fullmatch(r"on-failure(:\d+)?", service.get("restart", "")), f"{name}: no restart policy"
    check = service.get("healthcheck")
    assert check, f"{name}: no health check"
    if check.get("disable"):
        # Only a one-off that exits (migrate) has none, and it is retried a bounded number of times.
        assert re.fullmatch(r"on-failure:\d+", service["restart"]), f"{name}: a long-running service needs a check"
    else:
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1


def test_the_web_app_is_checked_for_readiness_and_each_worker_by_its_heartbeat():
    assert "/readyz" in " ".join(SERVICES["app"]["healthcheck"]["test"])
    for name in APP_SERVICES:
        if name in {"app", "migrate"}:
            continue
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[1:4] == ["python", "-m", "app.platform.heartbeat"], f"{name}: {test}"


def test_each_heartbeat_checked_is_one_a_worker_writes():
    """A health check reading a heartbeat no loop writes would fail for ever (or, worse, be dropped)."""
    sources = "\n".join(path.read_text() for path in (ROOT / "app").rglob("*.py"))
    # Written by the shared loop (app.platform.workers.run(..., name="...")) or by a direct beat.
    written = set(re.findall(r'heartbeat\.beat\("([a-z0-9_-]+)"', sources))
    written |= set(re.findall(r'workers\.run\([^)]*?name="([a-z0-9_-]+)"', sources, re.S))
    for name in APP_SERVICES:
        test = SERVICES[name].get("healthcheck", {}).get("test", [])
        if "app.platform.heartbeat" not in test:
            continue
        beat = test[test.index("--name") + 1]
        command = " ".join(SERVICES[name]["command"])
        assert beat in written or f"flask workers beat --name {beat}" in command, f"{name}: nothing beats {beat!r}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_runs_a_pinned_image_or_our_build(name):
    service = SERVICES[name]
    if "build" in service:
        return  # the Dockerfile's FROM is checked below
    assert EXACT_TAG.match(service["image"]), f"{name}: {service['image']} is not pinned to an exact version"


def _stages() -> list[tuple[str, str | None]]:
    """The Dockerfile's stages: (image, name) each, in order."""
    return re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", (ROOT / "Dockerfile").read_text(), re.MULTILINE | re.IGNORECASE)


def test_the_dockerfile_base_images_are_pinned():
    stages = _stages()
    assert stages
    named = set()
    for image, name in stages:
        # A stage may start from an earlier stage; anything else is an image pinned to an exact version.
        assert image in named or EXACT_TAG.match(image), f"FROM {image} is not pinned to an exact version"
        named.add(name)
    assert any(image.startswith("python:3.11.") for image, _ in stages)


def test_the_console_is_built_in_a_stage_of_its_own_and_only_its_build_is_kept():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = _stages()
    node = [name for image, name in stages if image.startswith("node:")]
    assert node == ["console"]
    assert stages[-1][0] != "console" and not stages[-1][0].startswith("node:")  # the image runs no Node
    assert "npm ci" in dockerfile  # from the lockfile
    assert re.search(r"^COPY --from=console \S*/dist console/dist$", dockerfile, re.MULTILINE)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_is_written_in_the_compose_file(name):
    for variable, value in environment(SERVICES[name]).items():
        if SECRET_NAME.search(variable) and not variable.endswith("_PATH"):
            match = REFERENCE.match(value)
            assert match, f"{name}: {variable} holds a value; it must be a ${{VARIABLE}} reference"
            assert ":?" in value, f"{name}: {variable} must be required (${{{match['name']}:?...}}), not defaulted"
        password = urlsplit(value).password if "://" in value else None
        if password is not None:
            assert REFERENCE.match(password), f"{name}: {variable} has a password written in its URL"


def test_compose_interpolates_only_braced_variables():
    """`$name` in a command would be replaced by compose (with an empty value); the shell's own are `$$`."""
    for text in strings(COMPOSE):
        assert not re.search(r"\$(?![{$])", text.replace("$$", "")), text


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_has_every_setting_production_requires(name):
    env = environment(SERVICES[name])
    assert env.get("MATONG_ENV") == "production"
    missing = [variable for variable in (*Production.REQUIRED_ENV, *WECHAT_REQUIRED_ENV) if not env.get(variable)]
    assert missing == [], f"{name} lacks {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_reaches_the_database_and_redis_of_the_stack(name):
    env, db = environment(SERVICES[name]), environment(SERVICES["db"])
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme == "mysql+pymysql" and database.hostname in SERVICES
    assert SERVICES[database.hostname]["image"].startswith(("mariadb:", "mysql:"))
    assert database.username == db["MARIADB_USER"]
    assert database.path.lstrip("/") == db["MARIADB_DATABASE"]
    assert REFERENCE.match(database.password)["name"] == REFERENCE.match(db["MARIADB_PASSWORD"])["name"]
    assert "charset=utf8mb4" in database.query
    assert urlsplit(env["REDIS_URL"]).hostname == "redis" and SERVICES["redis"]["image"].startswith("redis:")
    assert db.get("MARIADB_ROOT_PASSWORD")


def test_services_wait_for_what_they_need_and_named_volumes_exist():
    for name, service in SERVICES.items():
        assert set(service.get("depends_on") or {}) <= set(SERVICES), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        if name != "migrate":
            assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_redis_keeps_its_data_on_disk():
    """Redis holds consumer scans not yet written to the database (docs/operations.md: backups)."""
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in SERVICES["redis"]["volumes"])


@pytest.mark.parametrize("path", ["secrets/", ".env", "var/", ".venv", ".git", "node_modules", "**/node_modules", "console/dist",
                                  "**/__pycache__", ".pytest_cache", ".hypothesis"])
def test_the_dockerignore_keeps_secrets_local_state_and_caches_out_of_the_image(path):
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert path in lines or path.rstrip("/") in lines
