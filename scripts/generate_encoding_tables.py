"""Write tap_pocket/pages/encoding_tables.py from the WHATWG Encoding Standard's data files.

Usage: python scripts/generate_encoding_tables.py PATH_TO_A_CLONE_OF_whatwg/encoding

The standard's ``encodings.json`` (every label and the encoding it names) and its
single-byte indexes (``index-<name>.txt``: the code point of each byte 0x80-0xFF) become
two Python tables. The data is the standard's (CC BY 4.0; in source code BSD 3-Clause,
Copyright WHATWG: Apple, Google, Mozilla, Microsoft); the generated module names the commit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tap_pocket" / "pages" / "encoding_tables.py"
#: U+FFFE: a byte the index leaves undefined (``codecs.charmap_decode`` then replaces it).
UNDEFINED = "\ufffe"


def single_byte_table(text: str) -> str:
    """The 128 characters of bytes 0x80-0xFF from an index file."""
    table = [UNDEFINED] * 128
    for line in text.split("\n"):  # not splitlines: the names column holds U+0085
        if not line.strip() or line.startswith("#"):
            continue
        pointer, code_point = line.split()[:2]
        table[int(pointer)] = chr(int(code_point, 16))
    return "".join(table)


def main(repo: Path) -> None:
    """Write the module."""
    commit = subprocess.run(
        [shutil.which("git") or "git", "-C", str(repo), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    groups = json.loads((repo / "encodings.json").read_text(encoding="utf-8"))
    labels: dict[str, str] = {}
    tables: dict[str, str] = {}
    for group in groups:
        for encoding in group["encodings"]:
            for label in encoding["labels"]:
                labels[label] = encoding["name"]
            # ISO-8859-8-I decodes with ISO-8859-8's index (encoding.py says so).
            if group["heading"] == "Legacy single-byte encodings" and encoding["name"] != (
                "ISO-8859-8-I"
            ):
                index = repo / f"index-{encoding['name'].lower()}.txt"
                tables[encoding["name"]] = single_byte_table(index.read_text(encoding="utf-8"))
    # x-user-defined: bytes 0x80-0xFF are U+F780-U+F7FF (the standard's own rule).
    tables["x-user-defined"] = "".join(chr(0xF780 + n) for n in range(128))
    lines = [
        '"""The WHATWG Encoding Standard\'s labels and single-byte indexes (generated).',
        "",
        "Written by scripts/generate_encoding_tables.py from https://github.com/whatwg/encoding",
        f"commit {commit}",
        "(encodings.json, index-*.txt). Copyright WHATWG (Apple, Google, Mozilla, Microsoft);",
        "CC BY 4.0, in source code BSD 3-Clause.",
        '"""',
        "",
        "#: Every label (lower case) and the name of the encoding it stands for.",
        "LABELS: dict[str, str] = {",
        *(f"    {label!r}: {name!r}," for label, name in sorted(labels.items())),
        "}",
        "",
        "#: For each single-byte encoding, the characters of bytes 0x80-0xFF (U+FFFE: undefined).",
        "SINGLE_BYTE: dict[str, str] = {",
    ]
    for name, table in tables.items():
        escaped = [f"\\u{ord(c):04x}" for c in table]  # 6 characters each, 12 a line
        lines.append(f"    {name!r}: (")
        lines.extend(f'        "{"".join(escaped[n : n + 12])}"' for n in range(0, 128, 12))
        lines.append("    ),")
    lines += ["}", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
