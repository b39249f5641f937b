"""The files of an export, and opening them.

A ``pocket.zip`` (2024-2025), or the folder it unzips to, holds ``part_000000.csv``, …
(items; sorted in part-number order, ``part_2`` before ``part_10``), plus
``annotations/part_*.json`` (highlights) and sometimes a legacy ``ril_export.html``. An
export one folder down is read the same way, one level only: a zip re-made from the
unzipped folder (every member under one top folder), or a folder whose only entry is a
folder holding the export (``pocket/pocket/part_000000.csv``, what unzipping such a zip
into a folder of its own gives); macOS's ``__MACOSX`` and dot files beside it do not
count. :func:`open_layout` sorts the files into a :class:`Layout` of :class:`ExportFile`
values; a zip stays open while they are read.

A zip that cannot be opened, or a member failing its CRC or decompression
(:data:`ZIP_DAMAGE`, reported by :func:`damaged_member_error` with the line reached), is
fatal: the export has to be downloaded again. A member is checked before any of its rows
is read (:func:`_checked_member`): one of up to :data:`~.problems.MEMBER_BUFFER` bytes is
read whole, its CRC checked, and parsed from memory; a bigger one is read through once to
check it, then parsed in a second pass. So nothing read from a damaged member (deflate
garbage before the CRC failure) ever becomes a row, and memory stays bounded. An
encrypted member, or two export files of the same name in one zip (which one is the
export?), are refused with a message; so is a file of a folder export that is not a
regular file (a FIFO, a broken link or a link loop).
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import typing as t
import zipfile
import zlib
from dataclasses import dataclass, field

from typing_extensions import override

from tap_pocket.export.detect import NO_EXPORT_FILES, ExportKind, not_a_regular_file
from tap_pocket.export.problems import MEMBER_BUFFER, ExportError
from tap_pocket.export.utf8 import DECODE_ERRORS, ERRORS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_PART_NUMBER = re.compile(r"part_(\d+)")
_CSV_PART_NAME = re.compile(r"part_[^/]*\.csv", re.IGNORECASE)
_ANNOTATIONS_PART_NAME = re.compile(r"part_[^/]*\.json", re.IGNORECASE)
_HTML_EXPORT_NAME = "ril_export.html"
_TEXT_CHUNK_BYTES = 64 * 1024
_CHECK_CHUNK_BYTES = 64 * 1024  # small: a CRC error is found in the last chunk read
_ENCRYPTED = 0x1  # general purpose bit flag 0

#: What reading a damaged zip member raises.
ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError)
#: What zipfile raises for damaged headers and offsets too (a seek before the start, an
#: unknown compression method, a name that does not decode).
_ZIP_UNREADABLE = (*ZIP_DAMAGE, OSError, ValueError, LookupError, NotImplementedError, struct.error)


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

        Invalid bytes and NUL characters are counted (:mod:`tap_pocket.export.utf8`), not
        fatal here.
        """
        # Large reads: zip members decompress in Python-level calls, fewer is faster.
        binary = io.BufferedReader(_NulCounting(self.open_binary()), _TEXT_CHUNK_BYTES)
        return io.TextIOWrapper(binary, encoding="utf-8-sig", errors=ERRORS, newline="")


class _NulCounting(io.RawIOBase):
    """A binary file whose NUL bytes bump :data:`~.utf8.DECODE_ERRORS` as they are read."""

    def __init__(self, raw: t.IO[bytes]) -> None:
        super().__init__()
        self._raw = raw

    @override
    def readable(self) -> bool:
        return True

    @override
    def readinto(self, buffer: t.Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        if b"\0" in data:
            DECODE_ERRORS.count += data.count(b"\0")
        return size

    @override
    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class Layout:
    """The files of a pocket.zip or its unzipped folder, each list in part order."""

    csv_parts: list[ExportFile] = field(default_factory=list)
    annotation_parts: list[ExportFile] = field(default_factory=list)
    html: ExportFile | None = None

    def is_empty(self) -> bool:
        """Whether no file of an export was found."""
        return not (self.csv_parts or self.annotation_parts or self.html)


def damaged_member_error(file: ExportFile, line: int | None, exc: Exception) -> ExportError:
    """The error for a zip member that fails while being read (one of :data:`ZIP_DAMAGE`)."""
    return _damaged(file.name, line, exc)


def _damaged(name: str, line: int | None, exc: Exception) -> ExportError:
    return ExportError(
        name,
        f"this zip member is damaged ({exc}); nothing was loaded from it; "
        "download your Pocket export again",
        line=line,
    )


def _checked_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> t.IO[bytes]:
    """A zip member whose CRC has been checked before anything of it is parsed.

    Up to :data:`~.problems.MEMBER_BUFFER` bytes (as the zip declares, and zipfile never
    reads past the declared size) it is read whole and served from memory; a bigger
    member is read through once to check it and opened again. The line in the error is
    where the damage was found.
    """
    if info.flag_bits & _ENCRYPTED:
        raise ExportError(
            name,
            "this zip member is encrypted (password-protected): Pocket's exports are not; "
            "unzip it with its password and set export_path to the folder",
        )
    chunks: list[bytes] = []
    keep = info.file_size <= MEMBER_BUFFER
    newlines = 0  # before the chunks kept (a member read whole counts them on failure)
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHECK_CHUNK_BYTES):
                if keep:
                    chunks.append(chunk)
                else:
                    newlines += chunk.count(b"\n")
        return io.BytesIO(b"".join(chunks)) if keep else archive.open(info)
    except _ZIP_UNREADABLE as exc:
        newlines += sum(chunk.count(b"\n") for chunk in chunks)
        raise _damaged(name, newlines + 1, exc) from exc


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
        if layout.is_empty():
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


def _single_folder(entries: t.Iterable[tuple[str, bool]]) -> str | None:
    """The one folder among a zip's or folder's ``(name, is a folder)`` entries, if alone.

    macOS's ``__MACOSX`` folder and dot files (``.DS_Store``) beside it do not count.
    """
    folders = set()
    for name, is_folder in entries:
        if name == "__MACOSX" or name.startswith("."):
            continue
        if not is_folder:
            return None
        folders.add(name)
    return folders.pop() if len(folders) == 1 else None


def _zip_layout(archive: zipfile.ZipFile, zip_name: str) -> Layout:
    infos = [info for info in archive.infolist() if not info.filename.endswith("/")]
    names = [info.filename for info in infos]
    layout = _zip_layout_under(archive, infos, zip_name, "")
    tops = ((top, bool(slash)) for top, slash, _ in (name.partition("/") for name in names))
    top = _single_folder(tops)
    if top is not None and layout.is_empty():  # a re-zipped export folder
        layout = _zip_layout_under(archive, infos, zip_name, top + "/")
    _refuse_repeated_names(zip_name, names, layout)
    return layout


def _zip_layout_under(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], zip_name: str, prefix: str
) -> Layout:
    """The layout of the members under ``prefix`` (``""``: the whole zip)."""
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename.startswith(prefix):
            by_name.setdefault(info.filename[len(prefix) :], info)

    def member(name: str) -> ExportFile:
        info = by_name[name]
        shown = f"{zip_name}:{prefix}{name}"
        return ExportFile(shown, lambda: _checked_member(archive, info, shown))

    return _layout_of_names(list(by_name), member)


def _refuse_repeated_names(zip_name: str, names: list[str], layout: Layout) -> None:
    """Two members of one name: a reader would see only one of them, so which is it?"""
    files = [*layout.csv_parts, *layout.annotation_parts, *([layout.html] if layout.html else [])]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    for file in files:
        name = file.name[len(zip_name) + 1 :]
        if counts.get(name, 0) > 1:
            raise ExportError(
                zip_name,
                f"holds {counts[name]} members named {name}: the export is ambiguous (each "
                "would hide the others' rows) and is not read; download your Pocket export "
                "again, or unzip it and keep one file of that name",
            )


def _folder_layout(folder: Path) -> Layout:
    layout = _files_layout(folder)
    if layout.is_empty():  # the export may be one folder down
        inner = _single_folder((entry.name, entry.is_dir()) for entry in folder.iterdir())
        if inner is not None:
            return _files_layout(folder / inner)
    return layout


def _files_layout(folder: Path) -> Layout:
    """The layout of the export files in ``folder`` (and its ``annotations`` folder)."""
    names = [entry.name for entry in _export_entries(folder)]
    annotations = folder / "annotations"
    if annotations.is_dir():
        names += [f"annotations/{entry.name}" for entry in _export_entries(annotations)]
    return _layout_of_names(names, lambda name: ExportFile.on_disk(folder / name))


def _export_entries(folder: Path) -> Iterator[Path]:
    """The regular files of ``folder``.

    A file named like an export file that is not regular (a FIFO, a broken link, a link
    loop) is an error, never silently skipped.
    """
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            continue
        problem = not_a_regular_file(entry)
        if problem is None:
            yield entry
        elif _is_export_name(entry.name):
            raise ExportError(str(entry), problem)


def _is_export_name(base: str) -> bool:
    return bool(
        _CSV_PART_NAME.fullmatch(base)
        or _ANNOTATIONS_PART_NAME.fullmatch(base)
        or base.lower() == _HTML_EXPORT_NAME
    )


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except _ZIP_UNREADABLE as exc:
        raise ExportError(
            str(path),
            f"the zip file is damaged ({exc}); download your Pocket export again",
        ) from exc
