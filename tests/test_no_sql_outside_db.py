"""Every query lives in ``lightfast.db`` (repository functions per noun) or in the search backends of
``lightfast.index``; the application services open sessions and call those functions, and the shells
(API, CLI, MCP server) do not even open sessions.

The check reads the syntax tree, not the text, so comments and docstrings never trip it, and a dict's
``.update(...)`` is not SQLAlchemy's ``update(...)``: only names imported from ``sqlalchemy`` count, and
only methods called on a session."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "lightfast"
# Where SQL belongs (db, index) and the test kit, which may seed or inspect a database directly.
ALLOWED = ("db", "index", "testing")
SHELLS = ("api", "cli", "mcp", "console")

# Statement builders and raw SQL, when imported from SQLAlchemy.
BUILDERS = frozenset({"select", "insert", "update", "delete", "text", "union", "union_all", "exists"})
# What a Session (or a Connection) does with a statement, an entity or a row.
SESSION_METHODS = frozenset(
    {"execute", "scalar", "scalars", "query", "get", "add", "add_all", "delete", "merge", "bulk_save_objects"}
)


def _is_session(node: ast.expr) -> bool:
    """``session``, ``db_session``, ``self.session``, ``conn``, ``connection.execute``'s receiver..."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return name is not None and (name == "session" or name.endswith("_session") or name in ("conn", "db"))


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.builders: set[str] = set()  # local names bound to SQLAlchemy statement builders
        self.modules: set[str] = set()  # local names bound to sqlalchemy (or one of its modules)
        self.found: list[tuple[int, str]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "sqlalchemy" or alias.name.startswith("sqlalchemy."):
                self.modules.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "sqlalchemy" or module.startswith("sqlalchemy."):
            for alias in node.names:
                if alias.name in BUILDERS:
                    self.builders.add(alias.asname or alias.name)
                elif alias.name in ("sql", "dialects", "sqlite", "postgresql", "future"):
                    self.modules.add(alias.asname or alias.name)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.builders:
            self.found.append((node.lineno, f"{func.id}("))
        elif isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            built = func.attr in BUILDERS and isinstance(root, ast.Name) and root.id in self.modules
            if built or (func.attr in SESSION_METHODS and _is_session(func.value)):
                self.found.append((node.lineno, f"{ast.unparse(func)}("))
        self.generic_visit(node)


def queries_in(source: str) -> list[tuple[int, str]]:
    """(line, call) of every query built or run in a module's source."""
    finder = _Finder()
    tree = ast.parse(source)
    # Imports first, wherever they are (a function may import select lazily).
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            finder.visit_Import(node)
        elif isinstance(node, ast.ImportFrom):
            finder.visit_ImportFrom(node)
    finder.visit(tree)
    return sorted(finder.found)


def sessions_opened_in(source: str) -> list[int]:
    """Lines that use a session factory (``services.sessions()``, ``svc.sessions.begin()``)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr == "sessions"
    )


def _modules(*, skip: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in skip)


def test_no_query_outside_db_and_index() -> None:
    found = {
        f"{path.relative_to(PACKAGE)}:{line}": call
        for path in _modules(skip=ALLOWED)
        for line, call in queries_in(path.read_text(encoding="utf-8"))
    }
    assert found == {}, "move these queries into a repository function in lightfast/db/"


def test_shells_never_open_sessions() -> None:
    shells = [p for p in _modules(skip=()) if p.relative_to(PACKAGE).parts[0] in SHELLS]
    assert shells, "no shell modules found"
    found = {
        str(path.relative_to(PACKAGE)): lines
        for path in shells
        if (lines := sessions_opened_in(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "shells call application services; only those open sessions"


# -- the checks themselves -------------------------------------------------------------------------

QUERIES = """
import sqlalchemy as sa
from sqlalchemy import delete, select as pick, text
from sqlalchemy.dialects import postgresql

def f(session, self):
    session.execute(pick(Job).where(Job.id == 1))
    session.get(Job, "job_1")
    session.scalars(sa.select(Job))
    self.session.scalar(text("SELECT 1"))
    session.add(Job())
    delete(Job)
    postgresql.insert(Job)
"""

HARMLESS = '''
"""session.execute(select(Job)) in a docstring, and update( in prose."""
from sqlalchemy.exc import IntegrityError

def f(headers, changes, pipeline, config, session):
    # session.execute(select(Job)) in a comment
    headers.update({"a": "b"})
    changes.update({"x": "y"})
    pipeline.delete("target", [])
    config.get("key")
    tail = []
    tail.insert(0, "x")
    jobs_repo.get_job(session, "job_1")
    "select(" + "text("
'''


def test_the_check_finds_every_kind_of_query() -> None:
    assert queries_in(QUERIES) == [
        (7, "pick("),
        (7, "session.execute("),
        (8, "session.get("),
        (9, "sa.select("),
        (9, "session.scalars("),
        (10, "self.session.scalar("),
        (10, "text("),
        (11, "session.add("),
        (12, "delete("),
        (13, "postgresql.insert("),
    ]


def test_the_check_ignores_comments_strings_and_lookalikes() -> None:
    assert queries_in(HARMLESS) == []


def test_the_check_fails_on_a_module_with_a_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "lightfast"
    (package / "app").mkdir(parents=True)
    (package / "db").mkdir()
    (package / "app" / "service.py").write_text(
        "from sqlalchemy import select\n\ndef f(session):\n    return session.scalar(select(Job))\n"
    )
    (package / "db" / "repo.py").write_text("from sqlalchemy import select\n\nQUERY = select(Job)\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    with pytest.raises(AssertionError) as failed:
        test_no_query_outside_db_and_index()
    assert "app/service.py:4" in str(failed.value)
    assert "db/repo.py" not in str(failed.value)


def test_the_shell_check_fails_on_a_route_that_opens_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lightfast"
    (package / "api").mkdir(parents=True)
    (package / "api" / "routes.py").write_text(
        "def route(services):\n    with services.sessions.begin() as session:\n        pass\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    with pytest.raises(AssertionError) as failed:
        test_shells_never_open_sessions()
    assert "api/routes.py" in str(failed.value)
