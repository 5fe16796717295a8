"""Shared pytest set-up.

* Makes this checkout importable as ``ansible_collections.enertef.workbench``
  (through the ``.collections`` link that scripts/bootstrap.sh creates).
* Loads every fixture module in ``tests/fixtures/`` as a pytest plugin, so the
  real test servers (PostgreSQL, SeaweedFS, ...) are defined once and shared.
"""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".collections"
_link = COLLECTIONS / "ansible_collections" / "enertef" / "workbench"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(ROOT, _link)
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(ROOT / "tests"))
# this checkout's launcher package first (the venv's editable install may point at another checkout)
sys.path.insert(0, str(ROOT / "files" / "notebook-image" / "workbench-launchers" / "src"))

pytest_plugins = sorted(
    "fixtures." + path.stem
    for path in (ROOT / "tests" / "fixtures").glob("*.py")
    if not path.name.startswith("_")
)
