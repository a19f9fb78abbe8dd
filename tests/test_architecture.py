"""The house rules of dig_kit's layout (see the map in dig_kit/__init__.py), read from the source.

Every ``import``/``from`` of a dig_kit module anywhere in a file counts, also inside functions:
a lazy import is still a dependency.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dig_kit"

# room -> the other rooms it may import (besides itself)
ALLOWED = {
    "config": {"rewards"},  # the reward section takes its defaults and checks from rewards.dig
    "prompts": set(),
    "paths": set(),
    "launcher": set(),
    "runlock": set(),
    "scenes": {"config"},
    "render": {"config", "scenes", "prompts", "launcher"},
    "data": {"config", "scenes", "prompts", "render", "rewards"},  # exports write the reward's ground truth
    "rewards": set(),
    "models": {"config", "prompts", "scenes"},  # the mini tokenizer learns the attribute words (scenes.attributes)
    "train": {
        "config",
        "prompts",
        "scenes",
        "rewards",
        "data",
        "models",
        "launcher",
        "runlock",
    },  # warm-start VQA names attributes
    "evaluation": {"config", "prompts", "rewards", "data", "models", "launcher"},
    "paper": {
        "paths",
        "launcher",
        "runlock",
        "config",
        "prompts",
        "scenes",
        "render",
        "data",
        "rewards",
        "models",
        "train",
        "evaluation",
    },
    "cli": {
        "paths",
        "launcher",
        "runlock",
        "config",
        "prompts",
        "scenes",
        "render",
        "data",
        "rewards",
        "models",
        "train",
        "evaluation",
        "paper",
    },
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "dig_kit":  # from dig_kit import x
                found |= {f"dig_kit.{a.name}" for a in node.names}
            elif name.startswith("dig_kit."):
                found.add(name)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("dig_kit.")}
    return found - {mod}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


GRAPH = {_module_name(p): _imports(p) for p in PKG.rglob("*.py")}


def test_every_module_belongs_to_a_room():
    rooms = {_room(m) for m in GRAPH} - {None}
    assert rooms <= set(ALLOWED), f"modules outside the map: {sorted(rooms - set(ALLOWED))}"


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_the_rules_allow(room):
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in GRAPH.items()
        if _room(m) == room
        for d in deps
        if _room(d) not in ALLOWED[room] | {room, None}
    )
    assert not bad, f"{room} imports rooms it must not: {bad}"


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for d in GRAPH.get(m, ()):
            # importing a.b.c runs the __init__ of a.b too
            for i in range(2, d.count(".") + 2):
                parent = ".".join(d.split(".")[:i])
                if parent in GRAPH and parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
    return seen


@pytest.mark.parametrize("room", ["train", "evaluation"])
def test_train_and_evaluation_reach_neither_render_nor_each_other(room):
    other = "evaluation" if room == "train" else "train"
    for m in (m for m in GRAPH if _room(m) == room):
        reached = {_room(d) for d in _closure(m)}
        assert not reached & {"render", other, "paper"}, f"{m} reaches {sorted(reached & {'render', other, 'paper'})}"


def test_no_import_cycles_between_rooms():
    edges = {(_room(m), _room(d)) for m, deps in GRAPH.items() for d in deps}
    edges = {(a, b) for a, b in edges if a and b and a != b}
    rooms = {r for e in edges for r in e}
    # Kahn's algorithm: a cycle leaves rooms that never reach in-degree 0
    indeg = {r: sum(1 for a, b in edges if b == r) for r in rooms}
    ready = [r for r in rooms if indeg[r] == 0]
    while ready:
        r = ready.pop()
        for a, b in edges:
            if a == r:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    assert all(v == 0 for v in indeg.values()), f"rooms in a cycle: {sorted(r for r, v in indeg.items() if v)}"


def test_the_rules_can_fail():
    # the checker sees a forbidden import when one is there (guards against a vacuous pass)
    assert "dig_kit.paper.figures" in _imports(PKG / "paper" / "tables.py")
    assert _room("dig_kit.paper.figures") not in ALLOWED["evaluation"]
