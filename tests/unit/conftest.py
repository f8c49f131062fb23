"""Unit tests import the collection as ansible_collections.fenix.maintenance."""

import os
import sys
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".work", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "fenix", "maintenance")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# The shared fakes live beside this file.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """A journal location of each backend: a SQLite file, or a fresh PostgreSQL database.

    The PostgreSQL server is the one tests/pg/pgctl starts; FENIX_TEST_PG_DSN
    names it (scripts/test sets it).
    """
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite")
        return
    admin_dsn = os.environ.get("FENIX_TEST_PG_DSN")
    if not admin_dsn:
        pytest.skip("FENIX_TEST_PG_DSN is not set (tests/pg/pgctl start; export FENIX_TEST_PG_DSN=$(tests/pg/pgctl dsn))")
    psycopg = pytest.importorskip("psycopg")
    name = "fenix_test_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE %s" % name)
    yield admin_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE %s WITH (FORCE)" % name)
