"""enertef.workbench.manifest_files: one file per manifest, rewritten only when it differs,
its own stale files removed, other files kept, bad manifests refused before any write."""
import os
import stat

import pytest

from ansible_collections.enertef.workbench.plugins.modules import manifest_files


def secret(name, value="eA=="):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "wb"}, "data": {"K": value}}


def test_write_rerun_change_and_prune(tmp_path):
    texts = manifest_files.rendered([secret("workbench-user-ann"), secret("workbench-user-ben")])
    assert sorted(texts) == ["secret-workbench-user-ann.yaml", "secret-workbench-user-ben.yaml"]
    assert manifest_files.sync(str(tmp_path), texts, 0o600, check_mode=True) == (sorted(texts), [])
    assert os.listdir(tmp_path) == []
    assert manifest_files.sync(str(tmp_path), texts, 0o600, check_mode=False) == (sorted(texts), [])
    assert all(stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600 for name in texts)
    assert manifest_files.sync(str(tmp_path), texts, 0o600, check_mode=False) == ([], [])

    (tmp_path / "README.md").write_text("mine")
    (tmp_path / "other.yaml").write_text("kind: ConfigMap\n")  # not written by the module: kept
    os.chmod(tmp_path / "secret-workbench-user-ann.yaml", 0o644)
    changed = manifest_files.rendered([secret("workbench-user-ann"), secret("workbench-user-cy", "eQ==")])
    assert manifest_files.sync(str(tmp_path), changed, 0o600, check_mode=False) == (
        ["secret-workbench-user-ann.yaml", "secret-workbench-user-cy.yaml"], ["secret-workbench-user-ben.yaml"])
    assert sorted(os.listdir(tmp_path)) == ["README.md", "other.yaml", "secret-workbench-user-ann.yaml",
                                            "secret-workbench-user-cy.yaml"]


@pytest.mark.parametrize("manifests, message", [
    ([{"kind": "Secret", "metadata": {}}], "metadata.name"),
    ([{"metadata": {"name": "x"}}], "kind"),
    ([secret("../etc")], "Kubernetes name"),
    ([secret("a"), secret("a")], "two manifests would be written to secret-a.yaml"),
])
def test_bad_manifests_are_refused(manifests, message):
    with pytest.raises(ValueError) as refused:
        manifest_files.rendered(manifests)
    assert message in str(refused.value)


def test_files_are_the_text_of_pyyaml_safe_dump():
    """libyaml's dumper, where PyYAML has it, must write what yaml.safe_dump writes: files from
    an earlier run then compare equal (no rewrite, changed=0), whichever dumper wrote them."""
    import yaml

    long_value = "QUJD" * 500  # a logins.json of many users: far over one line
    manifest = secret("workbench-hub-logins", long_value)
    manifest["metadata"]["labels"] = {"app.kubernetes.io/part-of": "enertef-workbench", "empty": "", "yes": "on"}
    manifest["data"].update({"MULTI": "line one\nline two\n", "UNICODE": "ü€", "NUMBERISH": "0700", "COLON": "a: b"})
    texts = manifest_files.rendered([manifest])
    assert texts == {"secret-workbench-hub-logins.yaml": manifest_files.HEADER + yaml.safe_dump(
        manifest, sort_keys=True, default_flow_style=False)}
    assert yaml.safe_load(texts["secret-workbench-hub-logins.yaml"]) == manifest
