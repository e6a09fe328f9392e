"""Loading the task collection (what `./inv --list` and every single task do first) must not import
the heavy libraries the domain modules use: each task imports its domain module when it runs."""

from __future__ import annotations

import json
import sys

from gitops.core import run
from support.checkout import ROOT

HEAVY = ("requests", "cryptography", "jsonschema", "kubernetes", "ruamel.yaml", "psycopg", "docker")

# A fresh interpreter: this pytest process has long since imported all of them.
PROBE = f"""
import json, sys
import gitops.tasks
heavy = {HEAVY!r}
print(json.dumps([h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules)]))
"""


def test_importing_the_tasks_loads_no_heavy_library() -> None:
    result = run.run([sys.executable, "-c", PROBE], cwd=ROOT, timeout=60)
    loaded = json.loads(result.stdout)
    assert loaded == [], f"import gitops.tasks loaded {', '.join(loaded)}; import them inside the tasks"
