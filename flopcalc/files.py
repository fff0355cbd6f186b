"""Writing what the user points at without damaging it: the one way every command writes a file
(``--out``, ``--onnx``, checkpoints, metrics, reports, experiments, the machine profile).

What happens depends on what the path is:

- a regular file, or nothing yet: the new content goes to a temporary file beside it, is
  flushed to disk and renamed over the path in one step, keeping the old file's permissions
  (and owner, where we may set it). A failure half-way leaves the old file as it was;
- a symbolic link: the same, at the file the link points to; the link stays a link;
- a character or block device, a FIFO, a socket, or a regular file with other hard links:
  the content, complete, is written into it directly. It is never replaced, so ``--out
  /dev/null`` discards the output and the null device stays the null device;
- a folder: refused, one line.

Every failure is a :class:`WriteError`, one line naming the path.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator

from .errors import UserError


class WriteError(UserError):
    """A file that cannot be written; the message is one line naming it."""


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _target(path: Path) -> tuple[Path, os.stat_result | None]:
    """The path to write (a symlink's final target) and what is there now (None: nothing)."""
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise WriteError(f"cannot write {str(path)!r}: {_reason(e)}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise WriteError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    if st is None and not real.parent.is_dir():
        raise WriteError(f"cannot write {str(path)!r}: folder {str(real.parent)!r} does not exist")
    return real, st


def replaceable(st: os.stat_result | None) -> bool:
    """Whether a new file may be renamed over what is there: nothing, or a regular file with
    no other name (renaming over a hard-linked file would cut it from its other names)."""
    return st is None or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files a writer of ``path`` killed mid-write left beside it (``.NAME.*.tmp``,
    as :func:`write_file` names them); call it only where no other writer of ``path`` can be running
    (a run resuming its own folder). The removed files."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []
    for tmp in stale:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return stale


def check_writable(path: str | Path) -> None:
    """Refuse a path that can never be written (a folder, a missing folder) before slow work."""
    _target(Path(path))


def write_file(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` and put what it wrote at ``path`` as the module docstring says."""
    path = Path(path)
    target, st = _target(path)
    if not replaceable(st):
        buf = io.BytesIO()
        write(buf)  # complete before the target is touched
        _write_into(path, target, buf.getvalue())
        return
    with _replacing(path, target, st) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def write_bytes(path: str | Path, data: bytes) -> None:
    write_file(path, lambda f: f.write(data))


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def file_target(path: str | Path) -> Iterator[str]:
    """``with file_target(path) as tmp:`` a writer that needs a file name (an exporter) writes
    the file ``tmp``; on success it is put at ``path`` as :func:`write_file` puts content, on
    any error it is removed and ``path`` is as it was."""
    path = Path(path)
    target, st = _target(path)
    if replaceable(st):
        with _replacing(path, target, st) as tmp:
            yield tmp
        return
    fd, tmp = tempfile.mkstemp(prefix=".flopcalc-", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            _write_into(path, target, f.read())
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_into(path: Path, target: Path, data: bytes) -> None:
    """Write ``data`` into what is at ``target`` (a device, a FIFO, a linked file), in place."""
    try:
        with open(target, "r+b" if target.is_file() else "wb") as f:
            f.write(data)
            if target.is_file():
                f.truncate()
            f.flush()
    except OSError as e:
        raise WriteError(f"cannot write {str(path)!r}: {_reason(e)}") from None


@contextlib.contextmanager
def _replacing(path: Path, target: Path, st: os.stat_result | None) -> Iterator[str]:
    """A temporary file beside ``target``, renamed over it on success, removed on failure."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise WriteError(f"cannot write {str(path)!r}: {_reason(e)}") from None
    os.close(fd)
    try:
        # the mode a new file would get (mkstemp's is 0600), or the replaced file's own
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st else 0o666 & ~_umask())
        if st is not None:
            with contextlib.suppress(OSError):  # allowed to root and to the owner keeping the group
                os.chown(tmp, st.st_uid, st.st_gid)
        yield tmp
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise WriteError(f"cannot write {str(path)!r}: {_reason(e)}") from None
        raise
    _sync_dir(target.parent)


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
