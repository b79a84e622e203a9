"""The package's import graph, layer by layer, and the rules it keeps.

    python scripts/import_graph.py          # one line per module: its layer and what it imports
    python scripts/import_graph.py --dot    # Graphviz: python scripts/import_graph.py --dot | dot -Tpng > g.png

Rules (exit 1 naming each break): a module imports only from lower layers or from its own folder; no
import inside a function (a lazy import dodging a cycle); the CLI modules (dcgan.cli) are imported by
the root scripts only, and the root scripts import nothing else of the package but dcgan.errors.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# Lowest first: a module may import from the layers before its own.
LAYERS = [
    ["dcgan.errors"],
    ["dcgan.files", "dcgan.config", "dcgan.latents", "dcgan.images", "dcgan.loggers"],
    ["dcgan.models"],
    ["dcgan.data"],
    ["dcgan.metrics"],
    ["dcgan.training"],
    ["dcgan.checkpoints"],
    ["dcgan.callbacks"],
    ["dcgan.cli"],
]
ENTRY_POINTS = ["train.py", "generate.py", "evaluate.py", "explore.py"]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def owner(module: str) -> str:
    """The layer entry a module belongs to (its package, or itself for a top-level module)."""
    return next(entry for layer in LAYERS for entry in layer if module == entry or module.startswith(entry + "."))


def layer(module: str) -> int:
    return next(i for i, entries in enumerate(LAYERS) if owner(module) in entries)


def imports(path: Path) -> tuple[set[str], list[str]]:
    """(dcgan modules imported at the top level, lazy imports found inside functions)."""
    tree = ast.parse(path.read_text())
    found, lazy = set(), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            names = [n for n in names if n == "dcgan" or n.startswith("dcgan.")]
            if not names:
                continue
            if node.col_offset > 0:
                lazy.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {names[0]} inside a function")
            found.update(names)
    return found, lazy


def package_files() -> list[Path]:
    """Every module of the package but its top ``__init__`` (the version)."""
    return [p for p in sorted((SRC / "dcgan").rglob("*.py")) if p != SRC / "dcgan" / "__init__.py"]


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p)[0] for p in package_files()}


def problems() -> list[str]:
    """Every break of the rules (empty when the layout holds)."""
    found = []
    for path in package_files():
        module = module_name(path)
        targets, lazy = imports(path)
        found += lazy
        for target in sorted(targets - {"dcgan"}):
            same_folder = owner(target) == owner(module)
            if not same_folder and layer(target) >= layer(module):
                found.append(f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)}): upward")
    for script in ENTRY_POINTS + [str(p.relative_to(ROOT)) for p in sorted((ROOT / "scripts").glob("*.py"))]:
        targets, lazy = imports(ROOT / script)
        found += lazy
        if script in ENTRY_POINTS:
            extra = {t for t in targets if not t.startswith("dcgan.cli.") and t != "dcgan.errors"}
            found += [f"{script} imports {t}: an entry point calls dcgan.cli only" for t in sorted(extra)]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dot", action="store_true", help="print the graph in Graphviz dot")
    args = parser.parse_args()
    edges = graph()
    if args.dot:
        print("digraph dcgan {\n  rankdir=BT; node [shape=box];")
        for module, targets in edges.items():
            for target in sorted(targets - {"dcgan"}):
                print(f'  "{module}" -> "{target}";')
        print("}")
    else:
        for module, targets in sorted(edges.items(), key=lambda item: (layer(item[0]), item[0])):
            shown = ", ".join(sorted(t.removeprefix("dcgan.") for t in targets - {"dcgan"})) or "-"
            print(f"{layer(module)}  {module:<36} -> {shown}")
    broken = problems()
    for problem in broken:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
