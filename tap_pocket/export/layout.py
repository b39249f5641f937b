"""The files of an export, and opening them.

A ``pocket.zip`` (2024-2025), or the folder it unzips to, holds ``part_000000.csv``, …
(items; sorted in part-number order, ``part_2`` before ``part_10``), plus
``annotations/part_*.json`` (highlights) and sometimes a legacy ``ril_export.html``. A
zip re-made from the unzipped folder (every member under one top folder, maybe beside
``__MACOSX/``) is read the same way. :func:`open_layout` sorts the files into a
:class:`Layout` of :class:`ExportFile` values; a zip stays open while they are read.

A zip that cannot be opened, or a member failing its CRC or decompression
(:data:`ZIP_DAMAGE`, reported by :func:`damaged_member_error` with the line reached), is
fatal: the export has to be downloaded again.
"""

from __future__ import annotations

import contextlib
import io
import re
import typing as t
import zipfile
import zlib
from dataclasses import dataclass, field

from tap_pocket.export.detect import NO_EXPORT_FILES, ExportKind
from tap_pocket.export.problems import ExportError
from tap_pocket.export.utf8 import ERRORS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_PART_NUMBER = re.compile(r"part_(\d+)")
_CSV_PART_NAME = re.compile(r"part_[^/]*\.csv", re.IGNORECASE)
_ANNOTATIONS_PART_NAME = re.compile(r"part_[^/]*\.json", re.IGNORECASE)
_HTML_EXPORT_NAME = "ril_export.html"
_TEXT_CHUNK_BYTES = 64 * 1024

#: What reading a damaged zip member raises.
ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class ExportFile:
    """One file of an export: on disk or in a zip, named as users should see it."""

    name: str
    open_binary: Callable[[], t.IO[bytes]]

    @classmethod
    def on_disk(cls, path: Path) -> ExportFile:
        """A file on disk, named by its path."""
        return cls(str(path), lambda: path.open("rb"))

    def open_text(self) -> t.TextIO:
        """The file as UTF-8 text (a BOM is tolerated), newlines kept for the csv module.

        Invalid bytes are counted (:mod:`tap_pocket.export.utf8`), not fatal here.
        """
        # Large reads: zip members decompress in Python-level calls, fewer is faster.
        binary = io.BufferedReader(t.cast("io.RawIOBase", self.open_binary()), _TEXT_CHUNK_BYTES)
        return io.TextIOWrapper(binary, encoding="utf-8-sig", errors=ERRORS, newline="")

    def read_bytes(self) -> bytes:
        """The whole file."""
        with self.open_binary() as binary:
            return binary.read()


@dataclass
class Layout:
    """The files of a pocket.zip or its unzipped folder, each list in part order."""

    csv_parts: list[ExportFile] = field(default_factory=list)
    annotation_parts: list[ExportFile] = field(default_factory=list)
    html: ExportFile | None = None


def damaged_member_error(file: ExportFile, line: int | None, exc: Exception) -> ExportError:
    """The error for a zip member that fails while being read (one of :data:`ZIP_DAMAGE`)."""
    return ExportError(
        file.name,
        f"this zip member is damaged ({exc}); download your Pocket export again",
        line=line,
    )


@contextlib.contextmanager
def open_layout(path: Path, kind: ExportKind) -> Iterator[Layout]:
    """The layout of a pocket.zip (kept open while its files are read) or of a folder.

    Raises :class:`ExportError` for a damaged zip or for one holding no export files.
    """
    archive = None
    if kind is ExportKind.FOLDER:
        layout = _folder_layout(path)
    else:
        archive = _open_zip(path)
        layout = _zip_layout(archive, str(path))
    try:
        if not (layout.csv_parts or layout.annotation_parts or layout.html):
            raise ExportError(str(path), NO_EXPORT_FILES)
        yield layout
    finally:
        if archive is not None:
            archive.close()


def _part_order(name: str) -> tuple[int, str]:
    """Sort key: ``part_2`` before ``part_10`` even where the numbers are not zero-padded."""
    match = _PART_NUMBER.search(name.rsplit("/", 1)[-1])
    return (int(match.group(1)) if match else -1, name)


def _layout_of_names(names: list[str], make: Callable[[str], ExportFile]) -> Layout:
    """Sort an export's file names (``/``-separated, relative) into its layout."""
    layout = Layout()
    for name in sorted(names, key=_part_order):
        folder, _, base = name.rpartition("/")
        if folder == "" and _CSV_PART_NAME.fullmatch(base):
            layout.csv_parts.append(make(name))
        elif folder.lower() == "annotations" and _ANNOTATIONS_PART_NAME.fullmatch(base):
            layout.annotation_parts.append(make(name))
        elif folder == "" and base.lower() == _HTML_EXPORT_NAME:
            layout.html = make(name)
    return layout


def _single_top_folder(names: list[str]) -> str | None:
    """``pocket/`` when every member lies in that one folder (a re-zipped export)."""
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("__MACOSX/")}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return None


def _zip_layout(archive: zipfile.ZipFile, zip_name: str) -> Layout:
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    prefix = _single_top_folder(names) or ""
    inside = [name[len(prefix) :] for name in names if name.startswith(prefix)]

    def member(name: str) -> ExportFile:
        return ExportFile(f"{zip_name}:{prefix}{name}", lambda: archive.open(prefix + name))

    return _layout_of_names(inside, member)


def _folder_layout(folder: Path) -> Layout:
    names = [entry.name for entry in folder.iterdir() if entry.is_file()]
    annotations = folder / "annotations"
    if annotations.is_dir():
        names += [f"annotations/{entry.name}" for entry in annotations.iterdir() if entry.is_file()]
    return _layout_of_names(names, lambda name: ExportFile.on_disk(folder / name))


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExportError(
            str(path),
            f"the zip file is damaged ({exc}); download your Pocket export again",
        ) from exc
