# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put the notebook-scripts into the user's home at pod start, never over the user's edits.

A file is copied when it is missing. A file that is still exactly what an
earlier start installed (its checksum is in the state file) is updated to the
image's newer version. A file the user changed is left alone and the image's
version is put beside it as ``<name>.new``. Deleting a file is respected: it
is not brought back (delete the state file to get everything again).
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import sys

STATE_FILE = ".workbench-installed.json"


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def install_scripts(source, destination):
    """Install ``source``'s files into ``destination``; return {relative path: action}."""
    source, destination = pathlib.Path(source), pathlib.Path(destination)
    state_path = destination / STATE_FILE
    try:
        installed = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        installed = {}
    actions = {}
    for src in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = src.relative_to(source).as_posix()
        if "__pycache__" in relative or relative.endswith(".pyc"):
            continue
        target = destination / relative
        new_sum = _sha256(src)
        if not target.exists():
            if relative in installed:
                actions[relative] = "kept deleted"
                continue
            action = "installed"
        elif _sha256(target) == new_sum:
            installed[relative] = new_sum
            actions[relative] = "unchanged"
            continue
        elif installed.get(relative) == _sha256(target):
            action = "updated"
        else:
            shutil.copyfile(src, target.with_name(target.name + ".new"))
            actions[relative] = "edited by user: new version beside it as %s.new" % target.name
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        installed[relative] = new_sum
        actions[relative] = action
    destination.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(installed, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, state_path)
    return actions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", help="the image's copy, e.g. /opt/workbench/notebook-scripts")
    parser.add_argument("destination", help="e.g. ~/notebook-scripts")
    args = parser.parse_args(argv)
    for relative, action in install_scripts(args.source, os.path.expanduser(args.destination)).items():
        sys.stderr.write("workbench notebook-scripts: %s: %s\n" % (relative, action))


if __name__ == "__main__":
    main()
