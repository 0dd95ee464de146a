"""The layout shows the architecture, and keeps it: genlib never imports Streamlit, every import goes down the
layers (or stays in its own), no package imports cycle, and the README's layout section lists the tree."""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENLIB = ROOT / "genlib"

#: genlib's parts from the bottom layer up; a module may import its own layer or a lower one, never a higher one.
LAYERS: list[set[str]] = [
    {"errors", "paths", "limits", "sources"},
    {"access"},
    {"params", "cache", "logs", "presets"},
    {"systems"},
    {"data"},
    {"transforms"},
    {"models"},
    {"metrics", "words"},   # words reads the metric and setting labels
    {"train", "store", "uploads"},
    {"catalog", "compare", "dynamics", "latent", "density", "anomaly", "avo"},
    {"figures"},
    {"api", "cli", "__main__"},
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """genlib.models.vae → "models"; genlib.errors → "errors"."""
    return module.split(".")[1] if module.count(".") else ""


def _imports(path: Path) -> set[str]:
    """Every genlib module ``path`` imports, at the top or inside a function (a lazy import is still a dependency)."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = ".".join(rel.parts[:-1])  # the package a relative import starts from (also for __init__.py)
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("genlib"):
                out.add(target)
                out.update(f"{target}.{a.name}" for a in node.names
                           if (ROOT / (target + "." + a.name).replace(".", "/")).with_suffix(".py").exists())
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("genlib"))
    return out


def _modules() -> list[Path]:
    return sorted(GENLIB.rglob("*.py"))


def test_genlib_never_imports_streamlit() -> None:
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import streamlit|from streamlit)", text, re.M), path


def test_every_part_of_genlib_has_a_layer() -> None:
    parts = {p.stem if p.is_file() else p.name for p in GENLIB.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert parts == set(LAYER), f"give these a layer in LAYERS (and a line in the README): {parts ^ set(LAYER)}"


def test_imports_only_go_down_the_layers() -> None:
    upward = []
    for path in _modules():
        source = _part(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if source not in LAYER:
            continue  # genlib/__init__.py: the lazy façade
        for target in _imports(path):
            t = _part(target)
            if t and t != source and LAYER[t] > LAYER[source]:
                upward.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        source = _part(".".join(path.relative_to(ROOT).with_suffix("").parts))
        graph[source] |= {_part(t) for t in _imports(path) if _part(t) not in ("", source)}
    seen: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in graph.get(node, ()):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle: " + " → ".join(stack[stack.index(nxt):] + [node, nxt]))
            if nxt not in seen:
                visit(nxt, stack + [node])
        seen[node] = 2

    for node in list(graph):
        if node not in seen:
            visit(node, [])


def _readme_layout() -> dict[str, str]:
    """The README's layout block: entry ("data/", "params.py") → its text, continuation lines included."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## For developers", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        m = re.match(r"^  (\S+)\s+(.*)$", line)
        if m:
            current = m.group(1)
            entries[current] = m.group(2)
        elif current and line.startswith("   "):
            entries[current] += " " + line.strip()
    return entries


def test_the_readme_layout_section_matches_the_tree() -> None:
    entries = _readme_layout()
    listed = {e.rstrip("/").removesuffix(".py") for e in entries}
    assert listed == set(LAYER) - {"__main__"}, f"README layout vs genlib/: {listed ^ (set(LAYER) - {'__main__'})}"
    order = [e.rstrip("/").removesuffix(".py") for e in entries]
    assert [LAYER[p] for p in order] == sorted(LAYER[p] for p in order), "the README lists genlib bottom-up"
    for entry, description in entries.items():
        folder = GENLIB / entry.rstrip("/")
        if folder.is_dir():
            missing = [p.name for p in folder.glob("*.py") if p.stem != "__init__" and p.name not in description]
            assert not missing, f"README's line for {entry} does not name {missing}"


def test_no_module_imports_another_modules_private_names() -> None:
    """A name starting with "_" is a module's own business; what two modules share is a public building block."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("genlib")):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    found.append(f"{path.relative_to(ROOT)}: {node.module} {private}")
    assert not found, "private imports:\n" + "\n".join(found)
