"""The verify role against real local HTTP/TCP servers started by the test
(the workbench's own services need a cluster): a healthy endpoint passes and
the summary names the URLs and the credential file; a dead one fails naming it."""
import http.server
import socket
import threading

import pytest

PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - enertef.workbench.verify
"""


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_healthy_endpoints_pass_with_a_summary(playbook, http_server, tmp_path):
    result = playbook(PLAY, extra_vars={
        "workbench_state_dir": str(tmp_path),
        "verify_urls": [{"name": "Hub", "url": "http://127.0.0.1:%d" % http_server, "health": "/health"}],
        "verify_tcp_services": [{"name": "HTTP", "host": "127.0.0.1", "port": http_server}],
        "verify_retries": 1, "verify_delay": 1, "workbench_users": ["carol_v"],
        "verify_postgres_connections": False,
    })
    assert result.rc == 0, result
    summary = [r for name, _, r in result.task_results() if name == "Show where everything is"][0]["msg"]
    text = str(summary)
    assert "http://127.0.0.1:%d" % http_server in text
    assert str(tmp_path / "credentials.yml") in text
    # the hub's users and where each one's password is
    assert "as carol_v" in text and "login_password in %s" % (tmp_path / "user-credentials.yml") in text


def test_a_dead_endpoint_fails_naming_it(playbook, http_server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    result = playbook(PLAY, extra_vars={
        "workbench_state_dir": str(tmp_path),
        "verify_urls": [{"name": "pgAdmin", "url": "http://127.0.0.1:%d" % http_server, "health": "/nope"}],
        "verify_tcp_services": [{"name": "PostgreSQL", "host": "127.0.0.1", "port": dead}],
        "verify_retries": 1, "verify_delay": 1, "verify_postgres_connections": False,
    })
    assert result.rc != 0
    failed = [(name, r) for name, _, r in result.task_results() if r.get("failed")]
    assert failed and failed[0][0] == "Check each web endpoint answers"
    assert "/nope" in str(failed[0][1])


CONNECTIONS_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The verify role's connection report
      ansible.builtin.include_role:
        name: enertef.workbench.verify
        tasks_from: connections
"""


def test_connection_use_is_reported_against_the_budget(playbook, postgres_server, tmp_path):
    """Real PostgreSQL 18: a tenant holding 7 of its 8 connections is named with a warning."""
    import contextlib
    import secrets


    from psycopg import sql

    password = secrets.token_urlsafe(18)
    with postgres_server.superuser_connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE verify_busy LOGIN CONNECTION LIMIT 8 PASSWORD {}").format(password))
        conn.execute("GRANT CONNECT ON DATABASE mlflow TO verify_busy")
    try:
        with contextlib.ExitStack() as stack:
            for _ in range(7):
                stack.enter_context(postgres_server.connect("verify_busy", password))
            result = playbook(CONNECTIONS_PLAY, extra_vars={
                "workbench_state_dir": str(tmp_path),
                "verify_postgres_unix_socket": postgres_server.socket_dir,
                "verify_postgres_port": postgres_server.port,
                "verify_postgres_admin_user": postgres_server.admin_user,
                "verify_postgres_admin_password": postgres_server.admin_password,
            })
        assert result.rc == 0, result
        lines = [r for name, _, r in result.task_results()
                 if name == "Show connection use against the budget"][0]["msg"]
        assert lines[0].startswith("PostgreSQL connections: ") and " of 97 in use" in lines[0], lines
        assert "WARNING: verify_busy: 7 connection(s), limit 8" in lines, lines
    finally:
        with postgres_server.superuser_connect(autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'verify_busy'")
            conn.execute("REVOKE CONNECT ON DATABASE mlflow FROM verify_busy")
            conn.execute("DROP ROLE verify_busy")

