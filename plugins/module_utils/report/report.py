# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

"""The run report: what a session did, from its journal, as JSON, Markdown, HTML and an SVG timeline.

build.py makes the data (the JSON report), render.py the documents from it
(templates.py holds their markup); this module asks for the formats and
writes the files. The report is the same for the same journal (no clock of
its own), so writing it again changes no file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Dict, Optional, Tuple

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.backends import is_dsn
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import ReportError, build_report
from ansible_collections.fenix.maintenance.plugins.module_utils.report.render import (
    render_html,
    render_markdown,
    render_plan,
    render_svg,
)

FORMATS = ("json", "markdown", "html", "svg")
EXTENSIONS = {"json": "json", "markdown": "md", "html": "html", "svg": "svg"}


def render(report: Dict[str, Any], formats: Tuple[str, ...] = FORMATS, svg_name: Optional[str] = None) -> Dict[str, str]:
    """The documents asked for, by format; the Markdown shows the picture at ``svg_name`` (a relative URL) if given."""
    svg = render_svg(report) if "svg" in formats or "html" in formats else None
    documents = {}
    for name in formats:
        if name == "json":
            documents[name] = json.dumps(report, indent=2, sort_keys=True) + "\n"
        elif name == "svg":
            documents[name] = svg
        elif name == "html":
            documents[name] = render_html(report, svg)
        elif name == "markdown":
            documents[name] = render_markdown(report, svg_name)
        else:
            raise ReportError("report_formats: %r is not one of %s" % (name, ", ".join(FORMATS)))
    return documents


# ---------------------------------------------------------------- the files

def report_directory(journal_location: str, report_dir: Optional[str]) -> str:
    """Where the reports go: the directory given, else ``reports/`` beside a SQLite journal."""
    if report_dir:
        return os.path.abspath(os.path.expanduser(report_dir))
    if is_dsn(journal_location):
        raise ReportError("report_dir: missing; a PostgreSQL journal has no directory to put the report beside,"
                          " so give report_dir (rolling_maintenance_report_dir in the role)")
    return os.path.join(os.path.dirname(os.path.abspath(journal_location)), "reports")


def file_stem(session_id: str) -> str:
    """The session id as a safe file name (other characters become _)."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", session_id).lstrip(".")
    return stem or "session"


def report_paths(directory: str, session_id: str, formats: Tuple[str, ...] = FORMATS) -> Dict[str, str]:
    stem = file_stem(session_id)
    return {name: os.path.join(directory, "%s.%s" % (stem, EXTENSIONS[name])) for name in formats}


def write_report(journal: Journal, session_id: str, directory: str, formats: Tuple[str, ...] = FORMATS,
                 check_mode: bool = False) -> Tuple[Dict[str, str], bool]:
    """Write the session's report files; (paths by format, whether any file changed).

    Each file is replaced atomically, and only when its content differs.
    In check mode nothing is written; the answer says what would change.
    """
    paths = report_paths(directory, session_id, formats)
    svg_name = os.path.basename(paths["svg"]) if "svg" in paths else None
    documents = render(build_report(journal, session_id), formats, svg_name)
    changed = False
    for name, path in paths.items():
        if _current(path) == documents[name]:
            continue
        changed = True
        if not check_mode:
            write_atomically(path, documents[name])
    return paths, changed


def write_plan_page(directory: str, name: str, description: Dict[str, Any], title: str) -> Tuple[Dict[str, str], bool]:
    """Write the plan page (``<name>-plan.md`` and ``.html``); (paths by format, whether a file changed).

    As the report's files: replaced atomically, and only when the content differs.
    """
    stem = "%s-plan" % file_stem(name)
    paths = {"markdown": os.path.join(directory, stem + ".md"), "html": os.path.join(directory, stem + ".html")}
    changed = False
    for kind, path in paths.items():
        text = render_plan(description, title, html=kind == "html")
        if _current(path) != text:
            changed = True
            write_atomically(path, text)
    return paths, changed


def _current(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see the old file or the new one."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
