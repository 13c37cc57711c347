import pytest

from tests.bot.fixtures import fake_github, rsa_key, settings  # noqa: F401  (shared fixtures)
from tests.bot.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request, tmp_path) -> str:
    """A job store of each kind: a SQLite file, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "jobs.sqlite")
    return request.getfixturevalue("postgres_server").new_database()
