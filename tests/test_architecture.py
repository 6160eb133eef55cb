"""Rules import-linter cannot express, enforced by parsing every source file with ``ast``.

The layers, "Streamlit only in dashboard.ui", "httpx only at the edges" and "the sandbox stands alone" are
import-linter contracts in pyproject.toml (``lint-imports``, run by the README's test command). What stays
here: ``pages/`` and ``streamlit_app.py`` are scripts, not a package, so no contract sees them; and SQL
builders (``select``, ``update``, ...) are names inside SQLAlchemy, not modules.

Each rule is a function from (path, source) to violations, run over the whole tree and also against a
small bad example, so a rule that silently matches nothing cannot pass.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import pytest

from tests.utils.cli import REPO

SKIP_DIRS = {".venv", "__pycache__", "node_modules", ".git"}


@dataclass(frozen=True)
class Import:
    module: str          # absolute, relative imports resolved
    names: tuple[str, ...]  # for ``from module import a, b``; empty for ``import module``
    line: int

    @property
    def targets(self) -> Iterator[str]:
        """The module and every ``module.name`` (``from dashboard.storage import db`` imports dashboard.storage.db)."""
        yield self.module
        for name in self.names:
            yield f"{self.module}.{name}"


def module_name(path: PurePosixPath) -> str:
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: PurePosixPath, tree: ast.AST) -> list[Import]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(Import(module, tuple(a.name for a in node.names), node.lineno))
    return found


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def under(path: PurePosixPath, *prefixes: str) -> bool:
    return any(str(path) == p or str(path).startswith(p.rstrip("/") + "/") for p in prefixes)


# --- the rules -----------------------------------------------------------------------------------------

Rule = Callable[[PurePosixPath, ast.AST], list[str]]





UI_FORBIDDEN = ("httpx", "sqlalchemy", "sqlmodel", "sqlite3", "psycopg", "psycopg2", "redis", "cryptography",
                "dashboard.repository", "dashboard.storage", "dashboard.security.crypto", "dashboard.security.vault",
                "dashboard.hubspot.client")


def thin_ui(path: PurePosixPath, tree: ast.AST) -> list[str]:
    if not (under(path, "pages") or str(path) == "streamlit_app.py"):
        return []
    return [f"{path}:{i.line} imports {target}" for i in imports_of(path, tree)
            for target in i.targets if within(target, *UI_FORBIDDEN)]










SQL_ALLOWED = ("dashboard/repository", "dashboard/storage/db.py", "dashboard/models.py", "dashboard/migrations")
SQL_NAMES = {"select", "update", "delete", "insert", "text"}
SQL_MODULES = ("sqlalchemy", "sqlmodel")
SQL_SUBMODULES = ("sql", "expression", "future")  # from sqlalchemy import sql; sql.select(...)


def sql_only_in_the_storage_layer(path: PurePosixPath, tree: ast.AST) -> list[str]:
    """``select/update/delete/insert/text`` from SQLAlchemy or SQLModel, imported or used as ``sa.select``."""
    if under(path, *SQL_ALLOWED):
        return []
    found: list[str] = []
    aliases: set[str] = set()
    for i in imports_of(path, tree):
        if within(i.module, *SQL_MODULES):
            found.extend(f"{path}:{i.line} imports {i.module}.{n}" for n in i.names if n in SQL_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname or a.name.split(".")[0] for a in node.names
                           if within(a.name, *SQL_MODULES))
        elif isinstance(node, ast.ImportFrom) and not node.level and within(node.module or "", *SQL_MODULES):
            aliases.update(a.asname or a.name for a in node.names if a.name in SQL_SUBMODULES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SQL_NAMES:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                found.append(f"{path}:{node.lineno} uses {ast.unparse(node)}")
    return found


def downloads_through_the_helper(path: PurePosixPath, tree: ast.AST) -> list[str]:
    """``st.download_button`` only in dashboard/ui/downloads.py, which hands Streamlit bytes (a spooled file
    raises MediaFileStorageError on click)."""
    if str(path) == "dashboard/ui/downloads.py":
        return []
    return [f"{path}:{node.lineno} calls download_button directly" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "download_button"]


RULES: list[Rule] = [thin_ui, sql_only_in_the_storage_layer, downloads_through_the_helper]


# --- the tree ------------------------------------------------------------------------------------------

def app_sources() -> list[PurePosixPath]:
    files = [REPO / "streamlit_app.py"] if (REPO / "streamlit_app.py").is_file() else []
    for top in ("dashboard", "pages"):
        files.extend(p for p in (REPO / top).rglob("*.py") if not SKIP_DIRS & set(p.parts))
    return sorted(PurePosixPath(p.relative_to(REPO).as_posix()) for p in files)


SOURCES = app_sources()


def parse(path: PurePosixPath) -> ast.AST:
    return ast.parse((REPO / path).read_text(encoding="utf-8"), filename=str(path))


def test_the_tree_is_found() -> None:
    assert PurePosixPath("dashboard/repository/__init__.py") in SOURCES
    assert PurePosixPath("dashboard/sandbox/__init__.py") in SOURCES
    assert len(SOURCES) > 20


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_holds_for_the_whole_tree(rule: Rule) -> None:
    violations = [v for path in SOURCES for v in rule(path, parse(path))]
    assert violations == [], f"{rule.__doc__ or rule.__name__}:\n" + "\n".join(violations)


# --- each rule catches what it is meant to catch -------------------------------------------------------

@pytest.mark.parametrize(("rule", "path", "source"), [
    (thin_ui, "pages/connections.py", "import sqlalchemy"),
    (thin_ui, "pages/connections.py", "from sqlmodel import Session"),
    (thin_ui, "pages/connections.py", "def f():\n    import httpx"),
    (thin_ui, "streamlit_app.py", "import sqlite3"),
    (thin_ui, "pages/keys.py", "from cryptography.fernet import Fernet"),
    (thin_ui, "pages/keys.py", "import psycopg"),
    (thin_ui, "pages/keys.py", "import redis.asyncio"),
    (thin_ui, "pages/keys.py", "from dashboard import repository"),
    (thin_ui, "pages/keys.py", "from dashboard.security.crypto import KeyRing"),
    (thin_ui, "pages/keys.py", "import dashboard.security.vault"),
    (thin_ui, "pages/keys.py", "from dashboard.hubspot import client"),
    (thin_ui, "pages/keys.py", "from dashboard.hubspot.client import HubSpotClient"),
    (thin_ui, "pages/keys.py", "from dashboard.storage import db as database"),
    (sql_only_in_the_storage_layer, "dashboard/services.py", "from sqlalchemy import select"),
    (sql_only_in_the_storage_layer, "dashboard/services.py", "from sqlmodel import select, Session"),
    (sql_only_in_the_storage_layer, "dashboard/services.py", "from sqlalchemy.sql import text"),
    (sql_only_in_the_storage_layer, "dashboard/services.py", "import sqlalchemy as sa\nsa.update(T)"),
    (sql_only_in_the_storage_layer, "dashboard/admin/keys.py", "import sqlalchemy\nsqlalchemy.sql.delete(T)"),
    (sql_only_in_the_storage_layer, "dashboard/admin/keys.py", "from sqlalchemy import sql\nsql.insert(T)"),
    (sql_only_in_the_storage_layer, "pages/x.py", "from sqlalchemy import text as t"),
    (downloads_through_the_helper, "pages/x.py", "st.download_button('x', data=f)"),
    (downloads_through_the_helper, "dashboard/ui/x.py", "cols[0].download_button('x', data=f)"),
])
def test_rule_catches_a_violation(rule: Rule, path: str, source: str) -> None:
    assert rule(PurePosixPath(path), ast.parse(source))


@pytest.mark.parametrize(("rule", "path", "source"), [
    (thin_ui, "pages/home.py", "from dashboard import services, scopes\nfrom dashboard.ui import context"),
    (thin_ui, "dashboard/repository/portals.py", "import sqlalchemy"),
    (sql_only_in_the_storage_layer, "dashboard/admin/keys.py",
     "from sqlalchemy import Engine\nfrom sqlmodel import Session"),
    (sql_only_in_the_storage_layer, "dashboard/migrations/versions/0002_x.py",
     "import sqlalchemy as sa\nsa.text('x')"),
    (sql_only_in_the_storage_layer, "dashboard/services.py", "ctx.text\nrow.update(x)"),
    (downloads_through_the_helper, "dashboard/ui/downloads.py", "where.download_button('x', data=f)"),
    (downloads_through_the_helper, "pages/x.py", "download_button(cols[0], 'x', make=f)"),
])
def test_rule_allows_what_is_allowed(rule: Rule, path: str, source: str) -> None:
    assert rule(PurePosixPath(path), ast.parse(source)) == []


def test_import_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml (also run by the README's test command)."""
    import subprocess
    import sys
    from pathlib import Path

    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
