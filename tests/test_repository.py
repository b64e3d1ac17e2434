"""The repository explains itself: every document a file refers to is in the repository.

A clone must be readable on its own, so a reference from code, docs, plan files or notebooks
to a document outside the repository (or to one that was renamed or deleted) is an error.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "results", "__pycache__", ".pytest_cache", ".ruff_cache"}
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".toml",
    ".ipynb",
    ".txt",
    ".sh",
    ".cfg",
    ".ini",
    ".yml",
    ".yaml",
    ".json",
    ".csv",
    ".html",
    ".js",
    ".css",
    "",
}

# Names of documents that live outside the repository; built from parts so that this file does
# not itself refer to them.
OUTSIDE_NAMES = tuple(name + ".md" for name in ("DESIGN", "PLANS", "STYLE"))
OUTSIDE_DIR = ".." + "/shared"
# A path into a "shared" folder beside the repository, written without the "../".
SHARED_PATH = re.compile(r"(?<![\w/.-])" + "shared" + r"/[\w./-]+")

# Markdown links and images: [text](target) / ![alt](target). Only in Markdown and notebooks,
# where the syntax means a link (in Python, ``rules[name](model)`` is a call).
MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A path to a document under docs/, anywhere in any text file (with or without backticks).
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*\.md\b")
# A backticked repository path in Markdown: `scenarios/plans/unilevel_5.toml`.
TOP_DIRS = ("docs", "scenarios", "simulation", "tests", "benchmarks", "notebooks", "scripts")
BACKTICK_PATH = re.compile(r"`((?:" + "|".join(TOP_DIRS) + r")/[\w./-]+)`")


def repository_files(root: Path = ROOT) -> list[Path]:
    """Text files of the repository: tracked and new (not ignored) files, or a tree walk."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
        paths = [root / n for n in names]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in root.rglob("*") if not SKIP_DIRS & set(p.relative_to(root).parts)]
    return sorted(
        p
        for p in paths
        if p.is_file() and p.suffix in TEXT_SUFFIXES and not SKIP_DIRS & set(p.parts)
    )


def _exists(target: str, base: Path, root: Path) -> bool:
    path = (base / target).resolve()
    try:
        path.relative_to(root)
    except ValueError:
        return False  # points outside the repository
    return path.exists()


def _generated(target: str, root: Path) -> bool:
    """True if git ignores ``target``: a generated output (``benchmarks/out/``), not a document."""
    try:
        done = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", target], cwd=root, capture_output=True
        )
    except OSError:
        return False
    return done.returncode == 0


def broken_references(root: Path = ROOT) -> list[str]:
    """``path:line: reference`` for every reference to a document not in the repository.

    This file is left out: its planted references are test data. In Markdown, paths inside
    fenced code blocks are command arguments (an ``--out`` file to write), not references.
    """
    problems: list[str] = []
    for path in repository_files(root):
        if path.resolve() == Path(__file__).resolve():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(root)
        markdown = path.suffix in {".md", ".ipynb"}
        fenced = False
        for lineno, line in enumerate(text.splitlines(), 1):
            found: list[str] = []
            if markdown and line.lstrip().startswith("```"):
                fenced = not fenced
            for name in OUTSIDE_NAMES:
                if name in line and not (root / name).exists():
                    found.append(f"{name} (not in the repository)")
            if OUTSIDE_DIR in line:
                found.append(f"{OUTSIDE_DIR} (outside the repository)")
            for m in SHARED_PATH.finditer(line):
                if not (root / m.group(0)).exists():
                    found.append(m.group(0))
            if fenced:
                problems += [f"{rel}:{lineno}: {ref}" for ref in dict.fromkeys(found)]
                continue
            for m in DOCS_PATH.finditer(line):
                if not (root / m.group(0)).exists():
                    found.append(m.group(0))
            if markdown:
                for m in MD_LINK.finditer(line):
                    target = m.group(1).split("#", 1)[0]
                    if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                        continue  # an anchor on the same page, or a web address
                    if not _exists(target, path.parent, root):
                        found.append(m.group(1))
                for m in BACKTICK_PATH.finditer(line):
                    target = m.group(1)
                    if not (root / target).exists() and not _generated(target, root):
                        found.append(target)
            problems += [f"{rel}:{lineno}: {ref}" for ref in dict.fromkeys(found)]
    return problems


def test_every_referenced_document_is_in_the_repository():
    problems = broken_references()
    assert not problems, "references to documents not in the repository:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.py", '"""See ' + OUTSIDE_NAMES[0] + ' section 2."""\n', OUTSIDE_NAMES[0]),
        ("plan.toml", "# rules: " + OUTSIDE_DIR + "/" + OUTSIDE_NAMES[1] + "\n", OUTSIDE_DIR),
        ("a.py", "# the rule is in docs/no_such_page.md\n", "docs/no_such_page.md"),
        ("b.py", "# see " + "shared" + "/notes.md\n", "shared" + "/notes.md"),
        ("docs/a.md", "Read [the plans](missing.md#unilevel).\n", "missing.md#unilevel"),
        ("docs/b.md", "Read [up](../../outside.md).\n", "../../outside.md"),
        ("docs/c.md", "Plans live in `scenarios/plans/gone.toml`.\n", "scenarios/plans/gone.toml"),
    ],
)
def test_a_planted_bad_reference_is_found(tmp_path: Path, name: str, content: str, expected: str):
    (tmp_path / "docs").mkdir()
    (tmp_path / "scenarios" / "plans").mkdir(parents=True)
    (tmp_path / "docs" / "plans.md").write_text("# Plans\n[ok](plans.md) `docs/plans.md`\n")
    assert broken_references(tmp_path) == []
    (tmp_path / name).write_text(content)
    problems = broken_references(tmp_path)
    assert problems, f"{content!r} in {name} was not found"
    assert all(p.startswith(f"{name}:1: ") for p in problems)
    assert any(expected in p for p in problems)


# ---------------------------------------------------------------------------------------------
# no import cycles inside the simulation package


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: the module body, ``try``/``if`` blocks in it,
    but not functions, classes or ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                stack += node.body
            stack += node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                stack += handler.body
        elif isinstance(node, ast.With):
            stack += node.body
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports at import time."""
    root = package.parent
    modules = {_module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _top_level_imports(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative import
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, base] if base else here)
                # "from pkg import sub" imports the submodule pkg.sub when there is one.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                # "import a.b.c" runs a, a.b and a.b.c; the deepest module of ours is the edge.
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of modules that import each other, as one cycle each."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_one_cycle(graph, sorted(g)) for g in groups]


def _one_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A concrete cycle through the first module of a strongly connected group."""
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return group


def test_the_simulation_package_has_no_import_cycle():
    cycles = import_cycles(import_graph(ROOT / "simulation"))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_an_import_cycle_is_found_and_named(tmp_path: Path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.c import f\n")
    (pkg / "a.py").write_text("import os\nfrom pkg import b\n")
    (pkg / "b.py").write_text("from pkg.sub import c\n")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
        "def f():\n    from pkg import a\n"
    )
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.c"}
    assert import_cycles(graph) == []  # imports in functions and TYPE_CHECKING do not count
    (pkg / "sub" / "c.py").write_text("from .. import a\ndef f():\n    pass\n")
    assert import_cycles(import_graph(pkg)) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
