"""Another git revision of the collection, for a bench's --before: its files in a collections directory of their own."""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Sequence

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def extract(revision: str, parts: Sequence[str] = ("plugins",)) -> str:
    """A collections directory holding ``parts`` of ``revision`` (git archive into a temporary directory)."""
    collections = tempfile.mkdtemp(prefix="fenix-bench-%s-" % revision.replace("/", "-"))
    tree = os.path.join(collections, "ansible_collections", "fenix", "maintenance")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", revision, *parts], check=True,
                             stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    return collections
