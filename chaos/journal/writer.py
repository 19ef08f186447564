"""Where journals go: ``<report dir>/<UTC timestamp>-<slug>/journal.json``."""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

from chaos.journal.model import Journal

DEFAULT_REPORT_DIR = "reports"


def slugify(title: str, limit: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "experiment"


def run_directory(report_dir: str | Path, started: datetime, title: str) -> Path:
    stamp = started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z"
    base = Path(report_dir) / f"{stamp}-{slugify(title)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def write_journal(journal: Journal, directory: Path) -> Path:
    """Write atomically (temp file, fsync, rename) so a reader never sees half a journal."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "journal.json"
    data = journal.model_dump(mode="json")
    fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
