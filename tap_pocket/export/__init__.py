"""Read a Pocket export into the same ``items`` and ``highlights`` rows as the API path.

Pocket closed in 2025; what users hold is their export. :class:`ExportReader` reads it
from the ``export_path`` setting, decides what it is from its content (not its name, see
:func:`detect_kind`) and streams rows, one file at a time:

* ``pocket.zip`` (2024-2025), or the folder it unzips to: ``part_000000.csv``, … (read
  in part-number order) with ``title,url,time_added,tags,status`` (Oct 2024-Mar 2025:
  ``title,url,time_added,cursor,tags,status``; columns are found by name), plus
  ``annotations/part_*.json`` (highlights). A ``ril_export.html`` next to CSV parts is
  ignored (the parts hold the same items); without parts it is read instead.
* a single ``part_*.csv``.
* the legacy ``ril_export.html``: ``<h1>Unread</h1>`` and ``<h1>Read Archive</h1>``
  lists of ``<a href time_added tags>`` links.
* an API dump: a saved ``/v3/get`` response (also karlicoss/pockexport's
  ``{account, list}``), or a JSON array of its list entries, parsed by exactly the code
  of the live API path (:mod:`tap_pocket.api`), tombstones included.

What export rows hold: ``given_url`` and ``given_title`` (with the ``&amp;``-style entity
references that leak into CSVs decoded, see :func:`normalise_url`), ``status``
(``unread``/``archived``), ``time_added``, ``time_updated`` (= ``time_added``: an export
is a snapshot, and the replication key is then always set) and ``tags`` (sorted, as the
API path sorts them). Everything an export lacks (favorite, time_read, resolved_*,
excerpt, word_count, …) stays null, nothing is invented: rows carry only the columns that
hold a value (:mod:`~tap_pocket.export.sparse`). Titles are otherwise kept as exported:
Pocket's 75-character cuts keep their trailing space, titles that became the URL stay
the URL. Ids are derived from the URL (:mod:`~tap_pocket.export.ids`); duplicates and bad
input are described in :mod:`~tap_pocket.export.problems`.

One job per module:

* :mod:`~tap_pocket.export.detect`: what ``export_path`` is, or why it is not an export
* :mod:`~tap_pocket.export.layout`: a zip's or folder's files, opening them
* :mod:`~tap_pocket.export.csv_parts`, :mod:`~tap_pocket.export.ril_html`,
  :mod:`~tap_pocket.export.annotations`, :mod:`~tap_pocket.export.dumps`: one format each
* :mod:`~tap_pocket.export.ids`, :mod:`~tap_pocket.export.utf8`,
  :mod:`~tap_pocket.export.json_text`, :mod:`~tap_pocket.export.sparse`,
  :mod:`~tap_pocket.export.problems`: what the formats share
* :mod:`~tap_pocket.export.reader`: :class:`ExportReader`, tying them together
* :mod:`~tap_pocket.export.streams`: the tap's export streams (imported on its own: it
  loads singer-sdk)
"""

from __future__ import annotations

from tap_pocket.export.detect import ExportKind, detect_kind
from tap_pocket.export.ids import derive_highlight_id, derive_item_id, normalise_url
from tap_pocket.export.problems import ExportError
from tap_pocket.export.reader import ExportReader

__all__ = [
    "ExportError",
    "ExportKind",
    "ExportReader",
    "derive_highlight_id",
    "derive_item_id",
    "detect_kind",
    "normalise_url",
]
