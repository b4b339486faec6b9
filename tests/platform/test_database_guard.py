"""`make test` wipes the database it is pointed at: a database not named as a test database is refused."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.database_guard import refusal

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", [
    "mysql+pymysql://matong:secret@127.0.0.1:3306/matong?charset=utf8mb4",
    "mysql+pymysql://matong:secret@db.internal/matong_prod",
    "sqlite:////srv/matong/var/matong.db",
])
def test_a_database_whose_name_does_not_say_test_is_refused(url):
    reason = refusal({"DATABASE_URL": url})
    assert reason is not None
    assert "MATONG_TEST_ALLOW_ANY_DB=1" in reason
    assert "secret" not in reason  # the password is not printed


@pytest.mark.parametrize("url", [
    "mysql+pymysql://matong_ci:matong_ci@127.0.0.1:3306/matong_test?charset=utf8mb4",
    "mysql+pymysql://u:p@127.0.0.1/matong_test_e",
    "mariadb+pymysql://u:p@127.0.0.1/TEST_matong",
    "sqlite:////tmp/matong-test-x1/test.db",
    "sqlite://",
])
def test_a_test_database_is_accepted(url):
    assert refusal({"DATABASE_URL": url}) is None


def test_no_database_url_means_the_suites_own_temporary_sqlite_file():
    assert refusal({}) is None


def test_any_database_is_accepted_when_told_so():
    assert refusal({"DATABASE_URL": "mysql+pymysql://u:p@127.0.0.1/matong", "MATONG_TEST_ALLOW_ANY_DB": "1"}) is None


def test_the_suite_stops_before_connecting_to_a_database_not_named_for_tests():
    env = {**os.environ, "DATABASE_URL": "mysql+pymysql://matong:secret@127.0.0.1:9/matong?charset=utf8mb4",
           "MATONG_ENV": "testing"}
    env.pop("MATONG_TEST_ALLOW_ANY_DB", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/gs1/test_gs1.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 4, run.stdout + run.stderr  # a usage error: no test ran, nothing was wiped
    assert "refusing to run the tests" in run.stderr
    assert "'matong'" in run.stderr
