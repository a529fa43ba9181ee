"""The house keeps its plan: a wing imports only its own or a lower one, and no modules import each other in a
loop. Read from the code's own import statements (those inside functions too), so a lazy import of a higher
wing counts as much as one at the top. The plan is drawn in docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "maskwatch"

# bottom to top; the package root (`maskwatch`: the API, `python -m maskwatch`) sits above them all
LAYERS = ("core", "io", "vision", "data", "video", "evaluation", "training", "store", "monitor", "web", "cluster",
          "commands")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """The maskwatch modules a file imports, each with whether it is imported when the file is (module level)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
            names = [base]
        at_load = id(node) in top  # not in a function, nor under `if TYPE_CHECKING:` (never run)
        found += [(name, at_load) for name in names if name == "maskwatch" or name.startswith("maskwatch.")]
    return found


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _rank(module: str) -> int:
    wing = _wing(module)
    return LAYERS.index(wing) if wing else len(LAYERS)


def _all() -> dict[str, list[tuple[str, bool]]]:
    return {_module(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_sits_in_a_wing_of_the_plan():
    loose = [m for m in _all() if _wing(m) is None and m not in ("maskwatch", "maskwatch.__main__")]
    assert loose == [], f"modules outside every wing of LAYERS: {loose}"


def test_no_wing_imports_a_higher_one():
    upward = [f"{module} -> {name}" for module, imports in _all().items() for name, _ in imports
              if _rank(name) > _rank(module)]
    assert upward == [], "imports of a higher wing:\n" + "\n".join(upward)


def test_no_import_loop_between_modules():
    modules = _all()
    graph = {m: {name for name, at_load in imports if at_load and name in modules and name != m}
             for m, imports in modules.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    loops = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                loops.append(" -> ".join([*path[path.index(other):], other]))
            elif other not in state:
                visit(other, [*path, other])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert loops == [], "import loops:\n" + "\n".join(loops)


def test_the_plan_sees_imports():
    """The test can fail: the wing plan reads imports, relative ones included, from real files."""
    imports = dict(_all())
    assert ("maskwatch.core.classes", True) in imports["maskwatch.core.events"]
    assert _rank("maskwatch.commands") > _rank("maskwatch.core.events") > -1


def test_the_architecture_page_draws_the_plan():
    """docs/architecture.md lists the wings in the order this test enforces."""
    page = (PACKAGE.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip().strip("`").rstrip("/") for line in page.splitlines()
            if line.startswith("| `")]
    assert tuple(rows) == LAYERS
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert folders == sorted(LAYERS)
