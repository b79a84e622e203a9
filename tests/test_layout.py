"""The layout explains itself: imports run downward only, the README's Layout names every module."""

from __future__ import annotations

import re

from tests.helpers import ROOT, load_script


def test_imports_run_downward_only():
    assert load_script("import_graph").problems() == []


def test_the_readme_layout_names_every_module():
    layout = re.search(r"## Layout\n.*?```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    modules = sorted((ROOT / "src" / "dcgan").rglob("*.py"))
    named = {line.split()[0] for line in layout.splitlines() if line.strip()}
    missing = [str(p.relative_to(ROOT / "src")) for p in modules if p.name != "__init__.py" and p.name not in named]
    assert missing == []
