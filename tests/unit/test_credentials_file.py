"""enertef.workbench.credentials_file: a file of credentials read or written in one step,
0600 in a 0700 directory, written only when its text or mode differs, never half-written."""
import os
import stat

import pytest

from ansible_collections.enertef.workbench.plugins.modules import credentials_file


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_read_missing_makes_the_directory_private(tmp_path):
    path = tmp_path / "state" / "user-credentials.yml"
    checked = credentials_file.handle(str(path), None, check_mode=True)
    assert (checked["changed"], checked["content"], checked["exists"]) == (True, "", False)
    assert not path.parent.exists()  # check mode makes nothing
    result = credentials_file.handle(str(path), None, check_mode=False)
    assert (result["changed"], result["directory_changed"], result["content"]) == (True, True, "")
    assert mode(path.parent) == 0o700 and not path.exists()
    assert credentials_file.handle(str(path), None, check_mode=False)["changed"] is False


def test_write_rerun_mode_and_content(tmp_path):
    path = tmp_path / "user-credentials.yml"
    os.chmod(tmp_path, 0o755)  # a directory open to others is closed
    assert credentials_file.handle(str(path), "alice: {db_password: x}\n", check_mode=True)["written"] is True
    assert not path.exists() and mode(tmp_path) == 0o755
    first = credentials_file.handle(str(path), "alice: {db_password: x}\n", check_mode=False)
    assert first["changed"] and first["written"] and first["directory_changed"]
    assert path.read_text() == "alice: {db_password: x}\n" and mode(path) == 0o600 and mode(tmp_path) == 0o700
    assert credentials_file.handle(str(path), "alice: {db_password: x}\n", check_mode=False)["changed"] is False
    read = credentials_file.handle(str(path), None, check_mode=False)
    assert (read["changed"], read["exists"], read["content"]) == (False, True, "alice: {db_password: x}\n")

    os.chmod(path, 0o644)  # readable by others: written again with 0600
    assert credentials_file.handle(str(path), "alice: {db_password: x}\n", check_mode=False)["written"] is True
    assert mode(path) == 0o600
    assert credentials_file.handle(str(path), "alice: {db_password: y}\n", check_mode=False)["written"] is True
    assert path.read_text() == "alice: {db_password: y}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["user-credentials.yml"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "user-credentials.yml"
    credentials_file.handle(str(path), "old\n", check_mode=False)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        credentials_file.handle(str(path), "new\n", check_mode=False)
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["user-credentials.yml"]


def test_not_a_file_is_refused(tmp_path):
    (tmp_path / "creds").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        credentials_file.handle(str(tmp_path / "creds"), "x", check_mode=False)
