"""Shared test setup.

Tests run in pytest's importlib mode (test files in different folders may share a name), so
tests/ is put on sys.path here for the shared fixture writers such as `fixtures_flame`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
