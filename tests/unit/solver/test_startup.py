"""Start-up: what `supplybid solve` imports, and that a module put off still works."""

import json
import subprocess
import sys


def _in_fresh_process(code: str) -> object:
    """What `code` prints as JSON, run in a new interpreter (nothing imported yet)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout)


def test_the_solver_does_not_import_pulps_log_reader_until_it_is_used() -> None:
    seen = _in_fresh_process(
        "import importlib.util, json, sys\n"
        "from unittest import mock\n"
        "import solver.solve, pulp.core.lp_stats as stats\n"
        "found = importlib.util.find_spec('orloge').name\n"
        "before = 'cpsat_logutils' in sys.modules\n"
        "reader = stats.orloge.get_info_solver\n"
        "with mock.patch('orloge.get_info_solver', return_value='patched'):\n"
        "    patched = stats.orloge.get_info_solver()\n"
        "print(json.dumps({'found': found, 'before': before,\n"
        "    'after': 'cpsat_logutils' in sys.modules, 'reader': reader.__module__,\n"
        "    'patched': patched, 'same': stats.orloge.get_info_solver is reader}))\n"
    )
    assert seen == {
        "found": "orloge",
        "before": False,
        "after": True,
        "reader": "orloge",
        "patched": "patched",
        "same": True,
    }


def test_solve_does_not_import_the_service_stack() -> None:
    seen = _in_fresh_process(
        "import json, sys\n"
        "import cli.main, solver.solve\n"
        "print(json.dumps(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'fastapi', 'bidding')\n"
        "    if m in sys.modules)))\n"
    )
    assert seen == []
