"""Files the operator's commands publish, written so that a crash or a power cut never
leaves half of one: each is written under a temporary name beside it, flushed to the disk,
and then renamed over the old one in one step. A reader (a web server, a spreadsheet) sees
the earlier file whole until then, and the new one whole after it.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

#: Files are readable by everyone, whatever the umask: a web server serves them.
FILE_MODE = 0o644
#: The temporary name of a file being written: ``.<name>.partial-<8 hex digits>``.
_PARTIAL = re.compile(r"\.(.+)\.partial-[0-9a-f]{8}")


def write_durably(path: Path, data: bytes) -> None:
    """Write the new file ``path`` (mode :data:`FILE_MODE`) and flush it to the disk, so
    that a rename never puts a file in place whose contents a power cut could leave empty."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (files created or renamed in it) to the disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` in one step: written under a temporary name in the same
    folder (a rename within one file system is atomic), flushed, renamed over ``path``, and
    the rename flushed too. When anything fails, ``path`` is as it was and nothing is left
    beside it."""
    partial = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        write_durably(partial, data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def left_by_a_crash(name: str) -> str | None:
    """The file a temporary file of :func:`replace_file` named ``name`` was for, when a
    crash left it behind (None for any other name)."""
    found = _PARTIAL.fullmatch(name)
    return found[1] if found else None
