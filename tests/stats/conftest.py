"""Fixtures for the statistics-engine tests (pure Python, no Django, no R)."""

from __future__ import annotations

import pytest


@pytest.fixture
def run_cli(capsys):
    """Run the command line in-process; return (exit status, stdout, stderr)."""
    from analysis.stats.cli import main

    def run(*argv: str):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
