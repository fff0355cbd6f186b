"""flopcalc.files: what every writing command does to the path it is given. A regular file is
replaced whole or not at all; a link is followed and stays a link; a device, a FIFO, a socket
or a hard-linked file is written into and never replaced; a folder is refused."""

import os
import socket
import stat
import threading

import pytest

from flopcalc.files import WriteError, file_target, write_bytes, write_file, write_text

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root (CI runs as root)")


def kind(path) -> str:
    m = os.lstat(path).st_mode
    for name, test in (("link", stat.S_ISLNK), ("file", stat.S_ISREG), ("char", stat.S_ISCHR),
                       ("fifo", stat.S_ISFIFO), ("socket", stat.S_ISSOCK), ("folder", stat.S_ISDIR)):
        if test(m):
            return name
    return "other"


def test_new_file_gets_the_mode_a_new_file_would(tmp_path):
    path = tmp_path / "a.txt"
    write_text(path, "hello\n")
    assert path.read_text() == "hello\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left


def test_regular_file_is_replaced_keeping_its_mode(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o640)
    write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_failing_writer_leaves_the_old_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")
    with pytest.raises(RuntimeError):
        write_file(path, broken)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    write_text(link, "new")
    assert kind(link) == "link" and os.readlink(link) == "real.txt"
    assert real.read_text() == "new" and stat.S_IMODE(real.stat().st_mode) == 0o600


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "missing.txt")
    write_text(link, "new")
    assert kind(link) == "link" and (tmp_path / "missing.txt").read_text() == "new"


def test_chain_of_links_writes_the_last_target(tmp_path):
    (tmp_path / "real").write_text("old")
    (tmp_path / "l1").symlink_to("real")
    (tmp_path / "l2").symlink_to("l1")
    write_text(tmp_path / "l2", "new")
    assert kind(tmp_path / "l2") == kind(tmp_path / "l1") == "link"
    assert (tmp_path / "real").read_text() == "new"


def test_hard_linked_file_is_written_in_place(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old content, longer than the new")
    os.link(a, b)
    write_text(a, "new")
    assert a.read_text() == b.read_text() == "new" and a.stat().st_ino == b.stat().st_ino


def test_dev_null_stays_the_null_device():
    before = os.stat("/dev/null")
    write_text("/dev/null", "discarded\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino


def _fifo_with_reader(tmp_path):
    """A FIFO, a thread reading it whole, and the list its bytes land in."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    return fifo, reader, got


def test_fifo_is_written_to_its_reader(tmp_path):
    fifo, reader, got = _fifo_with_reader(tmp_path)
    write_text(fifo, "through the pipe\n")
    reader.join(10)
    assert got == [b"through the pipe\n"] and kind(fifo) == "fifo"


def test_file_target_copies_into_a_fifo(tmp_path):
    fifo, reader, got = _fifo_with_reader(tmp_path)
    with file_target(fifo) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"exported")
    reader.join(10)
    assert got == [b"exported"] and kind(fifo) == "fifo"
    assert not os.path.exists(tmp)


@root_only
def test_character_device_is_written_into_never_replaced(tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device's numbers
    write_text(null, "discarded\n")
    with file_target(null) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"also discarded")
    assert kind(null) == "char" and os.stat(null).st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


@root_only
def test_full_device_is_one_error_and_stays_a_device(tmp_path):
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # /dev/full's numbers
    with pytest.raises(WriteError, match=r"^cannot write '.*full': No space left on device$"):
        write_text(full, "x" * 10_000)
    assert kind(full) == "char"


def test_socket_is_refused_and_stays_a_socket(tmp_path):
    path = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        with pytest.raises(WriteError, match=r"^cannot write '.*sock': "):
            write_text(path, "x")
        assert kind(path) == "socket"
    finally:
        s.close()


def test_folder_is_refused(tmp_path):
    with pytest.raises(WriteError, match=r"^cannot write '.*': it is a folder; give a file name$"):
        write_text(tmp_path, "x")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(WriteError, match="it is a folder"):
        write_bytes(link, b"x")


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(WriteError, match=r"^cannot write '.*a.txt': folder '.*nowhere' does not exist$"):
        write_text(tmp_path / "nowhere" / "a.txt", "x")


def test_unwritable_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="Permission denied"):
            write_text(folder / "a.txt", "x")
    finally:
        folder.chmod(0o700)


def test_stale_temporaries_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    """A writer killed mid-write leaves .NAME.XXXX.tmp beside NAME; a resuming run removes those, and
    only those (another file's temporaries and the file itself stay)."""
    from flopcalc.files import remove_stale_temporaries
    (tmp_path / "metrics.jsonl").write_text("1\n")
    stale = tmp_path / ".metrics.jsonl.y7k6ycz3.tmp"
    stale.write_text("half")
    other = tmp_path / ".results.jsonl.abc.tmp"
    other.write_text("x")
    assert remove_stale_temporaries(tmp_path / "metrics.jsonl") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".results.jsonl.abc.tmp", "metrics.jsonl"]
    assert remove_stale_temporaries(tmp_path / "missing" / "x") == []
