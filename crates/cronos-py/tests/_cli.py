"""The `cronos` CLI binary for tests that compare against it (one lookup for every test file).

With `CRONOS_CLI` set (as `scripts/test-all.sh` does) a missing binary is an error, not a skip:
the interop tests must not pass by skipping in CI. Without it the tests skip when no build is found.
"""
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _find():
    wanted = os.environ.get("CRONOS_CLI")
    if wanted:
        if not (Path(wanted).is_file() and os.access(wanted, os.X_OK)):
            raise RuntimeError(f"CRONOS_CLI={wanted!r} is not an executable file")
        return wanted
    for c in (REPO / "target" / "release" / "cronos", REPO / "target" / "debug" / "cronos", shutil.which("cronos")):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


CLI = _find()
# a skip only on a developer machine without a build: CI sets CRONOS_CLI, where _find raises instead
needs_cli = pytest.mark.skipif(CLI is None, reason="no cronos CLI build found and CRONOS_CLI is not set")
