"""The backup directory's index (plugins/module_utils/backup.py): manifest and
SHA256SUMS written, every kind of damage found and named, unsafe paths refused."""
import hashlib
import json
import subprocess

import pytest

from ansible_collections.enertef.workbench.plugins.module_utils import backup as lib


def make_backup(root, files):
    root.mkdir()
    entries = []
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        entries.append({"path": relative, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()})
    sha = hashlib.sha256(b"object").hexdigest()
    manifest = {"format": lib.FORMAT, "name": root.name, "files": entries,
                "postgres": {"file": lib.DUMP_FILE, "schemas": {}},
                "objects": {"buckets": ["mlflow"], "count": 1, "bytes": 6,
                            "items": [{"bucket": "mlflow", "key": "alice/a.txt", "size": 6, "sha256": sha,
                                       "md5": "", "content_type": "text/plain", "file": lib.object_file("mlflow", sha)}]}}
    lib.write_index(str(root), manifest)
    return manifest


@pytest.fixture
def backup(tmp_path):
    root = tmp_path / "workbench-20260131T120000Z"
    sha = hashlib.sha256(b"object").hexdigest()
    make_backup(root, {lib.DUMP_FILE: b"dump", lib.object_file("mlflow", sha): b"object",
                       "files/credentials.yml": b"x: 1\n"})
    return root


def test_a_good_backup_verifies_and_sha256sum_agrees(backup):
    assert lib.verify_backup(str(backup))["name"] == backup.name
    # the standard tool reads SHA256SUMS too, manifest.json included
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=backup, capture_output=True, text=True)
    assert check.returncode == 0 and "manifest.json: OK" in check.stdout


def test_a_changed_file_is_named(backup):
    (backup / "files/credentials.yml").write_bytes(b"x: 2\n")
    with pytest.raises(lib.BackupError, match=r"files/credentials.yml: checksum mismatch"):
        lib.verify_backup(str(backup))


def test_a_missing_file_is_named(backup):
    (backup / lib.DUMP_FILE).unlink()
    with pytest.raises(lib.BackupError, match=r"postgres/mlflow.dump: missing"):
        lib.verify_backup(str(backup))


def test_an_edited_manifest_is_caught_by_sha256sums(backup):
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["path"] != "files/credentials.yml"]
    (backup / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(lib.BackupError, match=r"manifest.json: checksum mismatch"):
        lib.verify_backup(str(backup))


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "manifest.json").unlink(), "has no manifest.json"),
    (lambda root: (root / "manifest.json").write_text("{not json"), "is not valid JSON"),
    (lambda root: (root / "manifest.json").write_text('{"format": "other/1"}'), "is not a enertef.workbench.backup/1"),
])
def test_a_missing_or_foreign_manifest_is_refused(backup, damage, message):
    damage(backup)
    with pytest.raises(lib.BackupError, match=message):
        lib.verify_backup(str(backup))


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(lib.BackupError, match="does not exist"):
        lib.verify_backup(str(tmp_path / "nope"))


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "manifest.json", "a\\b"])
def test_unsafe_paths_inside_a_backup_are_refused(path, tmp_path):
    assert lib.relative_path_problem(path)
    with pytest.raises(lib.BackupError):
        lib.inside(str(tmp_path), path)


def test_a_manifest_entry_pointing_outside_is_refused(backup):
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"].append({"path": "../../etc/passwd", "size": 1, "sha256": "0"})
    (backup / "manifest.json").write_text(json.dumps(manifest))
    (backup / "SHA256SUMS").unlink()
    with pytest.raises(lib.BackupError, match="bad path in backup"):
        lib.verify_backup(str(backup))


def test_backup_names():
    assert lib.default_name().startswith("workbench-") and not lib.name_problem(lib.default_name())
    for bad in ("", "../x", "a/b", ".hidden", "x" * 129):
        assert lib.name_problem(bad)


def test_the_password_goes_through_the_environment_only():
    env = lib.libpq_env({"host": "/tmp/sock", "port": 5432, "user": "admin", "password": "pw", "dbname": "mlflow"})
    assert env["PGPASSWORD"] == "pw" and env["PGHOST"] == "/tmp/sock" and env["PGDATABASE"] == "mlflow"
    assert "PGOPTIONS" not in env


def test_missing_pg_tools_are_named(tmp_path):
    with pytest.raises(lib.BackupError, match="pg_dump not found in"):
        lib.pg_tool(str(tmp_path), "pg_dump")
