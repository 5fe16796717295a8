"""The journey tests reuse the rendering helpers of tests/render (_render, _jupyterhub)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "render"))
