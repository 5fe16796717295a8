"""The VS Code tile (code-server behind jupyter-server-proxy) in a real Jupyter server.

code-server itself cannot be installed on this test machine: ``npm install
code-server`` runs VS Code's own ``npm install``, whose @vscode/ripgrep
postinstall downloads ripgrep from api.github.com, which is unreachable here
(the standalone release tarball is on GitHub too). So the process behind the
tile is a STAND-IN: a small HTTP server named ``code-server`` on PATH that
records the command line it was started with and serves a page. Everything
else is real: the entry point, jupyter-server-proxy, the Jupyter login, the
port and path handling, the extension seeding and the tile in JupyterLab
(tests/browser/test_code_server_tile_browser.py takes the screenshot).
What is NOT covered here: that the real code-server renders behind the proxy.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from fixtures.code_server import make_stand_in

pytestmark = pytest.mark.integration

def test_vscode_tile_is_registered_with_its_icon(code_server_jupyter):
    status, _, body = code_server_jupyter.get("server-proxy/servers-info")
    assert status == 200, body
    servers = {s["name"]: s for s in json.loads(body)["server_processes"]}
    entry = servers["vscode"]["launcher_entry"]
    assert entry["enabled"] and entry["title"] == "VS Code"
    icon_status, _, icon = code_server_jupyter.get(entry["icon_url"].lstrip("/"))
    assert icon_status == 200 and b"<svg" in icon


def test_vscode_opens_the_home_through_the_proxy(code_server_jupyter):
    status, _, body = code_server_jupyter.get("vscode/")
    assert status == 200, code_server_jupyter.log_tail()
    text = body.decode()
    assert "code-server stand-in" in text
    argv = json.loads(text.split("<pre id='argv'>", 1)[1].split("</pre>", 1)[0])["argv"]
    home = code_server_jupyter.home
    assert argv[argv.index("--auth") + 1] == "none"
    host, port = argv[argv.index("--bind-addr") + 1].rsplit(":", 1)
    assert host == "127.0.0.1" and port.isdigit(), "bound to loopback only, on the proxy's port"
    assert argv[-1] == str(home), "opens the user's home"
    extensions = pathlib.Path(argv[argv.index("--extensions-dir") + 1])
    assert extensions == home / ".local" / "share" / "code-server" / "extensions"
    assert (extensions / "ms-python.python-2025.0.0" / "package.json").exists(), "image extensions seeded"
    # a deeper path reaches it with the /vscode prefix stripped, as code-server expects
    status, _, body = code_server_jupyter.get("vscode/static/x.js")
    assert status == 200 and b"path /static/x.js" in body


def test_proxy_requires_the_jupyter_login(code_server_jupyter):
    import urllib.request

    # without the token: sent to Jupyter's login page, never to the editor
    with urllib.request.urlopen(code_server_jupyter.url + "vscode/", timeout=30) as answer:
        assert "/login" in answer.url
        assert b"code-server stand-in" not in answer.read()


def test_seeding_never_replaces_the_users_extensions(tmp_path):
    from workbench_launchers.servers import seed_code_server_extensions

    seed = tmp_path / "seed"
    (seed / "ext-a").mkdir(parents=True)
    mine = tmp_path / "extensions"
    assert seed_code_server_extensions(mine, seed) is True and (mine / "ext-a").is_dir()
    (mine / "ext-a").rename(mine / "ext-removed-by-user")
    assert seed_code_server_extensions(mine, seed) is False
    assert sorted(p.name for p in mine.iterdir()) == ["ext-removed-by-user"]


def test_tile_is_hidden_where_code_server_is_not_installed(tmp_path):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", "import json; from workbench_launchers.servers import "
                          "setup_code_server; print(json.dumps(setup_code_server()['launcher_entry']))"],
                         env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["enabled"] is False
    env["PATH"] = str(make_stand_in(tmp_path / "bin").parent)
    out = subprocess.run([sys.executable, "-c", "import json; from workbench_launchers.servers import "
                          "setup_code_server; print(json.dumps(setup_code_server()['launcher_entry']))"],
                         env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["enabled"] is True
