"""List the singer-sdk members that tap_pocket overrides, and fail on private ones.

mypy (``--strict`` with ``enable_error_code = ["explicit-override"]``, see pyproject.toml)
makes every overriding method carry ``@override`` and fails when an override no longer
matches the SDK's signature. It does not look at names: overriding or calling an SDK
member whose name starts with ``_`` type-checks as well as a public one, yet those are the
SDK's internals, free to change in any release. This check covers that gap. It imports
every module of ``tap_pocket`` and reports, for each class built on an SDK class:

- the SDK members it overrides (defines in its body, or assigns as ``self.<name>``);
- the private SDK members it uses (``self._x``, ``cls._x``, ``super()._x``), and
  ``<anything>._x`` elsewhere in the package when ``_x`` is a private SDK member name that
  tap_pocket does not define itself;
- imports from private SDK modules or of private SDK names (``singer_sdk.helpers._batch``).

It exits 1 if a private one is not in :data:`ALLOWED`, if an entry of :data:`ALLOWED`
names a test that does not exist, or if an entry is no longer needed.

    scripts/uv run python scripts/check_sdk_members.py      # scripts/test runs it
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tap_pocket"
SDK = "singer_sdk"

#: Private SDK members (``SDKClass.member``) or modules (``singer_sdk.x._y``) that tap_pocket
#: may override or use, each with the test that pins the SDK behaviour it relies on, as
#: ``tests/<file>.py::<test function>``: an SDK upgrade that changes the behaviour must fail
#: that test. For example:
#:     "Stream._sync_records": "tests/test_conformance.py::test_direct_path_matches_sdk",
CONFORMANCE = "tests/test_conformance.py::test_fast_path_writes_what_the_sdk_path_writes"
ALLOWED: dict[str, str] = {
    # The direct RECORD path (tap_pocket/output.py) mirrors Stream._sync_records; the
    # conformance test compares its messages with the SDK path's in every configuration.
    "Stream._sync_records": CONFORMANCE,
    "Stream._tap": CONFORMANCE,
    "Stream._get_state_partition_context": CONFORMANCE,
    "Stream._write_starting_replication_value": CONFORMANCE,
    "Stream._write_state_message": CONFORMANCE,
    "Stream._finalize_state": CONFORMANCE,
    "Stream._sync_children": CONFORMANCE,
    # Stream.get_batches' own signature names these types; no public alias exists.
    "singer_sdk.helpers._batch": (
        "tests/test_export_batch.py::test_batch_files_hold_the_record_mode_rows"
    ),
}


@dataclass(frozen=True, order=True)
class Finding:
    """One SDK member that a tap_pocket class overrides or uses."""

    path: str  # "tap_pocket/streams.py"
    line: int
    cls: str  # the tap_pocket class, "" for an import or a use outside an SDK subclass
    kind: str  # "overrides", "uses", "imports"
    member: str  # "Stream.get_records", "Stream._sync_records", "singer_sdk.helpers._batch"

    @property
    def where(self) -> str:
        """``path:line Class`` of the override or use."""
        return f"{self.path}:{self.line} {self.cls}".rstrip()

    @property
    def private(self) -> bool:
        """Whether the member's name (or a part of the module's) starts with ``_``."""
        parts = self.member.split(".")
        return any(map(_private, parts)) if self.kind == "imports" else _private(parts[-1])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _relative(path: str | None) -> str:
    if not path:
        return "?"
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _class_ast(cls: type) -> ast.ClassDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, ast.ClassDef) else None


def _self_attributes(node: ast.ClassDef, ctx: type[ast.expr_context]) -> dict[str, int]:
    """The ``self.<name>``, ``cls.<name>`` and ``super().<name>`` in a class, with lines."""
    names: dict[str, int] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ctx):
            receiver = sub.value
            if (isinstance(receiver, ast.Name) and receiver.id in {"self", "cls"}) or (
                isinstance(receiver, ast.Call)
                and isinstance(receiver.func, ast.Name)
                and receiver.func.id == "super"
            ):
                names[sub.attr] = min(sub.lineno, names.get(sub.attr, sub.lineno))
    return names


def _body_names(node: ast.ClassDef) -> dict[str, int]:
    """Names a class body defines (methods, properties, class attributes), with lines."""
    names: dict[str, int] = {}
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[statement.name] = statement.lineno
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = statement.lineno
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names[statement.target.id] = statement.lineno
    return names


_sdk_members_cache: dict[type, set[str]] = {}


def sdk_members(cls: type) -> set[str]:
    """What an SDK class defines: its namespace, annotations and ``self.<name>`` stores."""
    if cls not in _sdk_members_cache:
        names = set(vars(cls)) | set(vars(cls).get("__annotations__", {}))
        node = _class_ast(cls)
        if node is not None:
            names |= set(_body_names(node)) | set(_self_attributes(node, ast.Store))
        _sdk_members_cache[cls] = names
    return _sdk_members_cache[cls]


def _owner(cls: type, name: str) -> str | None:
    """``SDKClass.name`` if an SDK class in ``cls``'s MRO defines ``name``, else None.

    The class named is the one that defines it or, when that class is private, the first
    public SDK class of the MRO that inherits it: ``RESTStream.url_base``, not
    ``_HTTPStream.url_base``.
    """
    sdk_bases = [b for b in cls.__mro__ if b.__module__.split(".")[0] == SDK]
    definer = next((b for b in sdk_bases if name in sdk_members(b)), None)
    if definer is None:
        return None
    shown = definer
    if _private(definer.__name__):
        shown = next(
            (b for b in sdk_bases if issubclass(b, definer) and not _private(b.__name__)), definer
        )
    return f"{shown.__name__}.{name}"


def _modules() -> list[str]:
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    names.extend(
        info.name
        for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")
        if info.name.rsplit(".", 1)[-1] != "__main__"  # importing it would run the CLI
    )
    return names


def _import_findings(tree: ast.Module, path: str) -> set[Finding]:
    """Imports of private SDK modules or names, reported as the private module or name."""
    findings = set()
    for node in ast.walk(tree):
        imported: list[str] = []
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in imported:
            parts = name.split(".")
            if parts[0] == SDK and any(map(_private, parts)):
                first = next(i for i, p in enumerate(parts) if _private(p))
                member = ".".join(parts[: first + 1])
                findings.add(Finding(path, node.lineno, "", "imports", member))
    return findings


@dataclass
class _Scan:
    """What the classes of tap_pocket override and use, gathered module by module."""

    findings: set[Finding] = field(default_factory=set)
    #: Every name a tap_pocket class defines or assigns to self.
    own_names: set[str] = field(default_factory=set)
    #: The private members of the SDK classes tap_pocket builds on: "_tap" -> "Stream._tap".
    private_sdk_names: dict[str, str] = field(default_factory=dict)

    def add_class(self, cls: type, path: str) -> None:
        node = _class_ast(cls)
        if node is None:
            return
        defined = {**_self_attributes(node, ast.Store), **_body_names(node)}
        self.own_names |= set(defined)
        sdk_bases = [b for b in cls.__mro__ if b.__module__.split(".")[0] == SDK]
        for base in sdk_bases:
            for name in filter(_private, sdk_members(base)):
                self.private_sdk_names.setdefault(name, _owner(base, name) or name)
        if not sdk_bases:
            return
        offset = inspect.getsourcelines(cls)[1] - 1
        for name, line in defined.items():
            owner = _owner(cls, name)
            if owner and (name == "__init__" or not name.startswith("__")):
                self.findings.add(Finding(path, offset + line, cls.__name__, "overrides", owner))
        for name, line in _self_attributes(node, ast.Load).items():
            owner = _owner(cls, name)
            if owner and _private(name):
                self.findings.add(Finding(path, offset + line, cls.__name__, "uses", owner))

    def add_foreign_uses(self, path: str, tree: ast.Module) -> None:
        """``obj._x`` (not self/cls) where ``_x`` is a private SDK name tap_pocket lacks."""
        foreign = {n: o for n, o in self.private_sdk_names.items() if n not in self.own_names}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or node.attr not in foreign:
                continue
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in {"self", "cls"}:
                continue
            self.findings.add(Finding(path, node.lineno, "", "uses", foreign[node.attr]))


def _is_test(reference: str) -> bool:
    """Whether ``tests/x.py::test_y`` names a test function of this repository."""
    file, _, function = reference.partition("::")
    test_file = ROOT / file
    return bool(
        function
        and test_file.is_file()
        and re.search(
            rf"^\s*def {re.escape(function)}\(",
            test_file.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )


def _problems(findings: list[Finding]) -> list[str]:
    problems = []
    private = {f.member for f in findings if f.private}
    for finding in findings:
        if finding.private and finding.member not in ALLOWED:
            what = "module" if finding.kind == "imports" else "member"
            problems.append(
                f"{finding.where} {finding.kind} the private SDK {what} {finding.member}, "
                "which is not in ALLOWED (scripts/check_sdk_members.py) with the test that "
                "pins the SDK behaviour relied on"
            )
    for member, test in sorted(ALLOWED.items()):
        if not _is_test(test):
            problems.append(f"ALLOWED[{member!r}] names {test!r}, not a test of this repository")
        if member not in private:
            problems.append(f"ALLOWED[{member!r}] is no longer overridden or used: remove it")
    return problems


def check() -> tuple[list[Finding], list[str]]:
    """All findings, and the problems that fail the check."""
    scan = _Scan()
    trees = []
    for module_name in _modules():
        module = importlib.import_module(module_name)
        path = _relative(module.__file__)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        trees.append((path, tree))
        scan.findings |= _import_findings(tree, path)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module_name:
                scan.add_class(cls, path)
    for path, tree in trees:
        scan.add_foreign_uses(path, tree)
    findings = sorted(scan.findings)
    return findings, _problems(findings)


def main() -> int:
    """Print the SDK members tap_pocket overrides or uses; exit 1 on problems."""
    sys.path.insert(0, str(ROOT))
    findings, problems = check()
    out = sys.stdout
    out.write(f"SDK members overridden or used by {PACKAGE} (private ones marked !):\n")
    for finding in findings:
        mark = "!" if finding.private else " "
        allowed = f"  (allowed: {ALLOWED[finding.member]})" if finding.member in ALLOWED else ""
        out.write(f" {mark} {finding.where}: {finding.kind} {finding.member}{allowed}\n")
    for problem in problems:
        out.write(f"error: {problem}\n")
    private = sum(1 for f in findings if f.private)
    out.write(
        f"{len(findings)} SDK members overridden or used, {private} private, "
        f"{len(problems)} problems\n"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
