"""The rooms of shared/ and their import rules, read from the source with `ast` (nothing is
imported, so a rule holds whatever is installed):

- every module of shared lives in one of the rooms core/, backends/, domain/;
- core imports nothing else of ours but core;
- backends imports core and backends;
- domain imports core and domain, and backends for annotations only (under `if
  TYPE_CHECKING:`), so it needs no more than core does;
- core and domain import no library of the `backend` extra (shared/pyproject.toml) at run
  time, and the services that install shared without that extra import no shared.backends;
- shared never imports a service or a tool of the workspace.

One import crosses the rules, named in EXCEPTIONS with its reason: the migrate program
(backends) seeds the test merchant (domain).

The rules are those of shared/src/shared/__init__.py. Each rule is also run against a small
package made to break it, so each can fail.
"""

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared" / "src" / "shared"
ROOMS = ("core", "backends", "domain")
# Which rooms each room may import at run time, and which for annotations only.
RUNTIME = {"core": {"core"}, "backends": {"core", "backends"}, "domain": {"core", "domain"}}
TYPE_ONLY = {"core": set(), "backends": set(), "domain": {"backends"}}
# The one import across the rules, and why: (importing file under shared/src/shared, module).
EXCEPTIONS = {
    # The migrate program (`python -m shared.backends.migrations`) seeds the test merchant
    # once the schema is up to date; the merchant is the domain's.
    ("backends/migrations/__main__.py", "shared.domain.seed"),
}


@dataclass(frozen=True)
class Import:
    """One import of a source file: the dotted module it names (for `from a import b`, both
    `a` and `a.b` are listed, since b may be a module) and whether it is for annotations only."""

    module: str
    line: int
    type_only: bool


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, package: str) -> list[Import]:
    """Every import of the file at `path`, a module of `package` (dotted), relative ones made
    absolute."""
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, type_only)
            else:
                visit_stmt(child, type_only)

    def visit_stmt(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.append(Import(base, node.lineno, type_only))
            found.extend(Import(f"{base}.{a.name}", node.lineno, type_only) for a in node.names)
        if not isinstance(node, ast.Import | ast.ImportFrom):
            visit(node, type_only)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def _excepted(file: Path, module: str) -> bool:
    return any(
        str(file) == f and (module == m or module.startswith(m + ".")) for f, m in EXCEPTIONS
    )


def _package_of(path: Path, src: Path) -> str:
    """The dotted package that the file at `path` belongs to, `src` being the folder that holds
    its top package."""
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def _dist_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~;\s]", req, maxsplit=1)[0].lower() for req in requirements}


def _backend_libraries(shared_pyproject: Path) -> set[str]:
    project = tomllib.loads(shared_pyproject.read_text())["project"]
    return {
        name.replace("-", "_") for name in _dist_names(project["optional-dependencies"]["backend"])
    }


def _workspace_packages(root: Path) -> set[str]:
    """The import names of every package of the workspace other than shared."""
    sources = [*root.glob("services/*/src/*/"), *root.glob("deploy/*/src/*/")]
    sources += [*root.glob("clients/*/src/*/"), root / "bench", root / "chaos"]
    return {path.name for path in sources if path.is_dir() and path.name != "shared"}


def room_violations(root: Path) -> list[str]:
    """Every import of shared/src/shared under `root` that breaks a rule of its room, one
    sentence each; an empty list when the rules hold."""
    shared = root / "shared" / "src" / "shared"
    backend_libraries = _backend_libraries(root / "shared" / "pyproject.toml")
    services = _workspace_packages(root)
    problems: dict[tuple[Path, int], str] = {}
    for path in sorted(shared.rglob("*.py")):
        where = path.relative_to(root)
        relative = path.relative_to(shared).parts
        room = relative[0] if len(relative) > 1 else None
        if room not in ROOMS and path.name != "__init__.py":
            problems[where, 0] = f"{where} is in no room: move it into one of {', '.join(ROOMS)}"
            continue
        for imp in imports_of(path, _package_of(path, shared.parent)):
            top, *rest = imp.module.split(".")
            at = f"{where}:{imp.line} imports {imp.module}"
            if (where, imp.line) in problems:
                continue  # one sentence a line: `from a import b` is both a and a.b
            if _excepted(path.relative_to(shared), imp.module):
                continue
            if top in services:
                problems[where, imp.line] = f"{at}: shared never imports a service"
            elif top == "shared" and rest and rest[0] in ROOMS:
                allowed = set() if room is None else RUNTIME[room]
                if imp.type_only:
                    allowed = allowed | (set() if room is None else TYPE_ONLY[room])
                if rest[0] not in allowed:
                    problems[where, imp.line] = f"{at}: {room or 'shared'} may not import {rest[0]}"
            elif room in ("core", "domain") and top in backend_libraries and not imp.type_only:
                problems[where, imp.line] = f"{at}: {top} comes only with shared[backend]"
    return list(problems.values())


def core_service_violations(root: Path) -> list[str]:
    """Imports of shared.backends (at run time) by the packages that install shared without
    its `backend` extra."""
    problems: list[str] = []
    pyprojects = [*root.glob("services/*/pyproject.toml"), *root.glob("deploy/*/pyproject.toml")]
    for pyproject in sorted(pyprojects):
        dependencies = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
        if "shared" not in _dist_names(dependencies) or any(
            d.replace(" ", "").startswith("shared[") and "backend" in d for d in dependencies
        ):
            continue
        src = pyproject.parent / "src"
        for path in sorted(src.rglob("*.py")):
            for imp in imports_of(path, _package_of(path, src)):
                if imp.module.startswith("shared.backends") and not imp.type_only:
                    if problems and problems[-1].startswith(
                        f"{path.relative_to(root)}:{imp.line} "
                    ):
                        continue  # one sentence a line: `from a import b` is both a and a.b
                    problems.append(
                        f"{path.relative_to(root)}:{imp.line} imports {imp.module}, but "
                        f"{pyproject.relative_to(root)} installs shared without [backend]"
                    )
    return problems


def test_every_module_of_shared_keeps_the_rules_of_its_room():
    assert room_violations(ROOT) == []


def test_services_without_the_backend_extra_import_no_backends():
    assert core_service_violations(ROOT) == []


def test_every_exception_is_still_taken():
    for file, module in EXCEPTIONS:
        path = SHARED / file
        modules = {imp.module for imp in imports_of(path, _package_of(path, SHARED.parent))}
        assert module in modules, f"{file} no longer imports {module}: drop the exception"


def test_the_rooms_are_there():
    for room in ROOMS:
        assert (SHARED / room / "__init__.py").is_file()
        assert any(p.name != "__init__.py" for p in (SHARED / room).glob("*.py"))


# The same rules against small packages made to break them.


def _write(root: Path, files: dict[str, str]) -> Path:
    (root / "shared").mkdir(parents=True, exist_ok=True)
    (root / "shared" / "pyproject.toml").write_text(
        '[project]\nname = "shared"\n[project.optional-dependencies]\n'
        'backend = ["psycopg[binary]>=3.2", "redis>=5.2"]\n'
    )
    for name, text in {"shared/src/shared/__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for room in ROOMS:
        (root / f"shared/src/shared/{room}").mkdir(exist_ok=True)
        (root / f"shared/src/shared/{room}/__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        ({"shared/src/shared/loose.py": ""}, "shared/src/shared/loose.py is in no room"),
        (
            {"shared/src/shared/core/a.py": "from shared.domain import errors\n"},
            "core may not import domain",
        ),
        (
            {"shared/src/shared/core/a.py": "from ..backends.db import Row\n"},
            "imports shared.backends.db: core may not import backends",
        ),
        (
            {"shared/src/shared/backends/a.py": "import shared.domain.events\n"},
            "backends may not import domain",
        ),
        (
            {"shared/src/shared/domain/a.py": "from shared.backends.db import Row\n"},
            "domain may not import backends",
        ),
        (
            {"shared/src/shared/domain/a.py": "from shared import backends\n"},
            "domain may not import backends",
        ),
        (
            {"shared/src/shared/core/a.py": "import psycopg\n"},
            "psycopg comes only with shared[backend]",
        ),
        (
            {
                "services/api/src/api/__init__.py": "",
                "shared/src/shared/backends/a.py": "from api.main import app\n",
            },
            "shared never imports a service",
        ),
    ],
)
def test_a_broken_rule_is_named(tmp_path, files, complaint):
    problems = room_violations(_write(tmp_path, files))
    assert any(complaint in problem for problem in problems), problems


def test_annotations_may_name_backends_from_domain(tmp_path):
    text = (
        "from typing import TYPE_CHECKING\n\nfrom shared.core import settings\n"
        "if TYPE_CHECKING:\n    import psycopg\n    from shared.backends.db import Row\n"
    )
    assert room_violations(_write(tmp_path, {"shared/src/shared/domain/a.py": text})) == []


def test_a_service_without_the_extra_importing_backends_is_named(tmp_path):
    root = _write(tmp_path, {})
    (root / "services/dashboard/src/dashboard").mkdir(parents=True)
    (root / "services/dashboard/pyproject.toml").write_text(
        '[project]\nname = "dashboard"\ndependencies = ["shared"]\n'
    )
    (root / "services/dashboard/src/dashboard/main.py").write_text(
        "from shared.backends.db import Database\n"
    )
    (root / "services/api/src/api").mkdir(parents=True)
    (root / "services/api/pyproject.toml").write_text(
        '[project]\nname = "api"\ndependencies = ["shared[backend]"]\n'
    )
    (root / "services/api/src/api/main.py").write_text("from shared.backends.db import Database\n")
    problems = core_service_violations(root)
    assert len(problems) == 1 and "services/dashboard/src/dashboard/main.py:1" in problems[0]
