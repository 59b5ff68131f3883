"""`litmine --help` must stay fast: no torch, spaCy, FAISS or Prefect at import."""

from __future__ import annotations

import json
import subprocess
import sys


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from litmine.cli.root import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "heavy = [m for m in ('torch', 'spacy', 'faiss', 'prefect', 'sentence_transformers',"
        " 'transformers', 'scispacy', 'pandas') if m in sys.modules]\n"
        "print(json.dumps({'code': r.exit_code, 'heavy': heavy, 'out': r.output}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert "ingest" in result["out"] and "status" in result["out"]
    assert result["heavy"] == []
