"""python tests/cluster up|down|status|build|leftovers (node.py says what each does)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cluster.node import main  # noqa: E402

sys.exit(main(sys.argv))
