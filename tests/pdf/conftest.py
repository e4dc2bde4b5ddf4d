"""Make the repository importable for the PDF engine tests.

pytest runs with --import-mode=importlib, which does not put the rootdir on
sys.path, and the app's own conftest is deliberately not relied upon here.
"""
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("wizard") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
