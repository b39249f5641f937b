"""The Python versions the package claims, and this machine's interpreter for each.

The versions come from pyproject.toml's ``Programming Language :: Python :: 3.X``
classifiers (the one list of supported versions). An interpreter is looked for in pyenv
(``$PYENV_ROOT/versions/3.X.*``, the newest patch release first), then as ``python3.X`` on
PATH, then through ``uv python find`` without downloads; a candidate counts only if it runs
and reports that version (a pyenv shim for a version that is not enabled does not).

    python scripts/pythons.py            # one line per version: "3.X<TAB>path", or
                                         # "3.X<TAB>" when this machine has none
    python scripts/pythons.py --except-current   # without the running interpreter's version

``scripts/test`` runs the test suite (without e2e) once per line, skipping empty paths.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")


def claimed_versions(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The ``3.X`` versions of pyproject's classifiers, oldest first."""
    if sys.version_info >= (3, 11):
        import tomllib  # 3.11+ only; on 3.10 the installed metadata is read

        classifiers = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["classifiers"]
    else:  # pragma: no cover - the default environment of this repository is 3.11+
        from importlib.metadata import metadata

        classifiers = metadata("tap-pocket").get_all("Classifier") or []
    versions = {m.group(1) for c in classifiers if (m := CLASSIFIER.match(c))}
    return sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


def _version_of(executable: str) -> str | None:
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _candidates(version: str) -> list[str]:
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")

    def patch(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.name))

    installs = sorted(pyenv_root.glob(f"versions/{version}.*"), key=patch, reverse=True)
    found = [str(p / "bin" / f"python{version}") for p in installs]
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(on_path)
    uv = shutil.which("uv")
    if uv:
        result = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", version],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode == 0 and result.stdout.strip():
            found.append(result.stdout.strip())
    return found


def interpreter(version: str) -> str | None:
    """A working interpreter of ``version`` on this machine, or None."""
    for candidate in _candidates(version):
        if Path(candidate).is_file() and _version_of(candidate) == version:
            return candidate
    return None


def main(argv: list[str]) -> int:
    """Print the claimed versions with their interpreters (see the module docstring)."""
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for version in claimed_versions():
        if "--except-current" in argv and version == current:
            continue
        sys.stdout.write(f"{version}\t{interpreter(version) or ''}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
