"""scripts/bench.py: the quick mode prints a ratio."""

from __future__ import annotations

from tests.helpers import ROOT, run_script


def test_bench_script_quick_mode_prints_a_ratio():
    proc = run_script("scripts/bench.py", "--quick", cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ratio = [line for line in proc.stdout.splitlines() if line.startswith("ratio: ")]
    assert len(ratio) == 1 and float(ratio[0].split()[1]) > 0
