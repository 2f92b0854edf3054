"""Writing output safely: atomic files with the user's umask, checks of output paths, free space, store locks.

This module owns what every command that writes needs before and while it writes:

* :func:`write_atomic` and :func:`atomic_directory`: a hidden temporary file or directory beside the target,
  renamed into place when complete, with the permissions the user's umask gives (a colleague on a shared drive
  can read a report; ``tempfile`` alone would leave it 0600). The temporary name carries the writing process
  (pid and a digest of the host name), so :func:`remove_partials` can clear the leftovers of a killed process
  on the next start without touching those of a process still writing.
* :func:`check_output`: an output path checked before anything is created: not a file where a directory is
  meant (or the reverse), not below a file, in a directory this user may write, with room on the disk.
* :class:`DirectoryLock`: one process at a time in a store (a sweep, a comparison, a calibration).
* :func:`safe_name`: a scenario or experiment name made safe to use as a default file name.

Nothing here imports the model; the command line and the stores use it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from quartiersim.errors import CommandError, InputError

PARTIAL = ".partial"
LOCK_FILE = "quartiersim.lock"
#: Leftovers of another host's process are removed once this old: its pid cannot be checked from here, and no
#: single write of quartiersim takes a day.
FOREIGN_PARTIAL_AGE_S = 24 * 3600
#: The least free space any writing command asks for. Below it even a small report may fail half-way; the
#: commands add their own estimate of what they write (see :func:`check_output`).
MIN_FREE_BYTES = 16 * 2**20

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_UMASK_LOCK = threading.Lock()


# ------------------------------------------------------------------------------------------------------------
# permissions and atomic writes
# ------------------------------------------------------------------------------------------------------------

def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux's /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere the only way is to set it and set it back
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _owner_tag() -> str:
    return f"{os.getpid()}-{_HOST}"


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write one file atomically: ``write(tmp)`` fills a hidden temporary file beside ``path``, then it is renamed.

    A reader sees the old file or the whole new one, never a part. The file gets the mode a plain ``open`` would
    give (0666 less the umask). An interrupted write leaves only a hidden ``.<name>.*.partial`` file, which
    :func:`remove_partials` clears once its process has ended.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{_owner_tag()}{PARTIAL}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and disk_full(exc):
            raise _disk_full(path) from exc
        raise
    return path


def disk_full(exc: OSError) -> bool:
    """Whether an error says the disk (or the user's quota) is full; pyarrow's errors carry it only in words."""
    text = str(exc)
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in text or "quota exceeded" in text


def _disk_full(path: Path) -> CommandError:
    return CommandError(path, "the disk is full (no space left on the device)",
                        "free some space and run the same command again: finished work is kept, and nothing was "
                        "left half-written", exit_status=1)


def toml_plain(value: Any) -> Any:
    """Data for TOML: no None values (TOML has no null), in nested dicts and lists too."""
    if isinstance(value, dict):
        return {k: toml_plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [toml_plain(v) for v in value]
    return value


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file (UTF-8) atomically."""
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def atomic_directory(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """A hidden temporary directory to fill; renamed to ``out`` when the block ends without an error.

    The directory gets the mode ``mkdir`` would give (0777 less the umask). On an error the temporary
    directory is removed and ``out`` is left as it was.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=f".{_owner_tag()}{PARTIAL}", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        if out.exists():
            if not overwrite:
                raise FileExistsError(errno.EEXIST, "exists", str(out))
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and disk_full(exc):
            raise _disk_full(out) from exc
        raise


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _partial_in_use(path: Path) -> bool:
    """Whether a hidden partial file or directory may still be written by a running process."""
    match = re.search(r"\.(\d+)-([0-9a-f]{8})\.partial$", path.name)
    if match is None:  # written before partial names carried their owner: nobody writes it any more
        return False
    pid, host = int(match.group(1)), match.group(2)
    if host == _HOST:
        return pid == os.getpid() or pid_alive(pid)
    try:
        return time.time() - path.lstat().st_mtime < FOREIGN_PARTIAL_AGE_S
    except FileNotFoundError:
        return False


def remove_partials(directory: str | Path) -> list[Path]:
    """Delete the leftovers of interrupted atomic writes in ``directory`` whose process has ended.

    Returns:
        The paths removed.

    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for p in directory.glob(f".*{PARTIAL}"):
        if _partial_in_use(p):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


# ------------------------------------------------------------------------------------------------------------
# checks before anything is written
# ------------------------------------------------------------------------------------------------------------

def _existing_ancestor(path: Path) -> Path:
    """The nearest part of ``path`` (itself or a parent) that exists."""
    here = path.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def check_output(path: str | Path, field: str, kind: str = "directory", overwrite: bool = False,
                 resume: bool = False, needed_bytes: int = 0) -> Path:
    """Check an output path before anything is created, so a bad one costs nothing.

    Args:
        path: the file or directory a command will write.
        field: the argument or field that named it, for the message (e.g. ``--out``).
        kind: ``"directory"`` or ``"file"``.
        overwrite: an existing output may be replaced.
        resume: an existing directory is fine (the command resumes in it; the command checks what it holds).
        needed_bytes: the command's estimate of what it writes; :data:`MIN_FREE_BYTES` more must be free.

    Raises:
        InputError: the path is unusable (named, with what was expected; exit status 2).

    """
    path = Path(path)
    text = str(path)
    if not text or text.strip() != text or "\0" in text:
        raise InputError("argument", field, f"a {kind} path", text)
    try:
        return _check_output(path, text, field, kind, overwrite, resume, needed_bytes)
    except PermissionError as exc:  # a parent directory this user may not even look into
        raise InputError("argument", field, f"a place you can write ({exc.filename}: no permission)", text) from None


def _check_output(path: Path, text: str, field: str, kind: str, overwrite: bool, resume: bool,
                  needed_bytes: int) -> Path:
    if path.exists() or path.is_symlink():
        if kind == "directory" and not path.is_dir():
            raise InputError("argument", field, "a directory, not a file", text)
        if kind == "file" and path.is_dir():
            raise InputError("argument", field, "a file, not a directory", text)
        if not (overwrite or resume):
            raise InputError("argument", field, f"a {kind} that does not exist yet (or --overwrite)", text)
        # a resumed store is written inside; a replaced file or directory is written beside, then renamed
        targets = [path, path.absolute().parent] if kind == "directory" and resume else [path.absolute().parent]
    else:
        ancestor = _existing_ancestor(path)
        if not ancestor.is_dir():
            raise InputError("argument", field, f"a path below a directory, not below the file {ancestor}", text)
        targets = [ancestor]
    for target in targets:
        if not os.access(target, os.W_OK | os.X_OK):
            why = "a read-only file system" if _read_only_fs(target) else "no permission to write there"
            raise InputError("argument", field, f"a place you can write ({target}: {why})", text)
    target = targets[0]
    check_free_space(target, needed_bytes, field, text)
    return path


def check_store(out: Path, manifest: str, read: Callable[[], dict[str, Any]], key: str, identity: dict[str, Any],
                entries: set[str] | frozenset[str], holding: str, writer: str, moved_aside: bool = False) -> None:
    """Check that a resumable store ``out`` is new, empty, or holds the work with this same ``identity``.

    Args:
        out: the store directory (``--out``).
        manifest: the manifest's file name inside it.
        read: reads the manifest (raising the store's own error for a damaged one).
        key: the manifest's field holding the identity it was written with.
        identity: what the new command would write there; every key that differs is named.
        entries: the names a store of this kind holds.
        holding: what a matching store holds, for the message ("a sweep of this same design").
        writer: who writes such stores, for the message ("an earlier sweep").
        moved_aside: a damaged manifest moved aside (a name the manifest's begins) is accepted, for a store
            whose damaged-manifest message advises that.

    Raises:
        InputError: a directory holding something else, or other work (exit status 2).

    """
    if (out / manifest).is_file():
        old = read()
        differs = [k for k, v in identity.items() if old.get(key, {}).get(k) != v]
        if differs:
            raise InputError("argument", "--out", f"a new directory, or one holding {holding} (this one holds "
                             f"'{old.get('name')}', which differs in: {', '.join(differs)})", str(out))
    elif out.is_dir():
        strange = sorted(p.name for p in out.iterdir() if p.name not in entries and not p.name.endswith(PARTIAL)
                         and not (moved_aside and p.name.startswith(manifest)))
        if strange:
            raise InputError("argument", "--out", f"a new or empty directory, or one {writer} wrote (this one holds "
                             f"{', '.join(strange[:3])})", str(out))


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_free_space(where: Path, needed_bytes: int, field: str, text: str) -> None:
    """Refuse to start when the disk that will hold the output has less room than the command needs."""
    try:
        free = shutil.disk_usage(where).free
    except OSError:  # no figure (an unusual file system): the write itself will tell
        return
    needed = MIN_FREE_BYTES + max(int(needed_bytes), 0)
    if free < needed:
        raise InputError("argument", field, f"room on the disk: about {_mib(needed)} needed, {_mib(free)} free on "
                         f"{where} (free some space, or choose another {field})", text)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 1024:,.0f} KiB"


def safe_name(name: str) -> str:
    """A name usable as one file or directory name: no path separators, no leading dot, nothing unprintable."""
    text = re.sub(r"[^\w.+()-]+", "_", name.strip()).strip("._") or "unnamed"
    return text[:100]


def check_name(name: str) -> str:
    """A scenario or experiment ``name`` that is safe as part of a path, or a ValueError saying why not."""
    if not name.strip():
        raise ValueError("a non-empty name")
    if len(name) > 100:
        raise ValueError("a name of at most 100 characters")
    if any(c in name for c in "/\\") or name.strip() in (".", "..") or name.startswith("."):
        raise ValueError("a name without '/' or '\\' that does not start with '.' (it names output files)")
    if any(not c.isprintable() for c in name):
        raise ValueError("a name of printable characters")
    return name


# ------------------------------------------------------------------------------------------------------------
# one process per store
# ------------------------------------------------------------------------------------------------------------

class DirectoryLock:
    """An exclusive lock on a store directory, held while a command writes into it.

    The lock is ``fcntl.flock`` on ``quartiersim.lock`` in the directory, and the file says who holds it (pid,
    host, command, time). flock rather than an ``O_EXCL`` file alone: the kernel releases it when the holder
    ends, however it ends (SIGKILL, power loss of a client of a network drive), so a lock is never stale while
    the file stays, pid reuse cannot fool it and two processes cannot both take over a dead holder's lock. The
    pid in the file is checked all the same and named in the messages. On a file system without flock, the pid
    and host in the file decide: a live process on this host holds the lock, a dead one's lock is taken over.

    Args:
        directory: the store (it must exist).
        what: what the holder does, for the file and for messages (e.g. ``"quartiersim sweep"``).

    """

    def __init__(self, directory: str | Path, what: str):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.what = what
        self.fd: int | None = None
        self.previous: dict[str, Any] | None = None

    def acquire(self) -> DirectoryLock:
        """Take the lock, or raise :class:`~quartiersim.errors.CommandError` (exit status 2) naming the holder."""
        for _ in range(100):  # retried only when another process removed the file between open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                locked = self._flock(fd)
                if not locked:
                    self._refuse(_read_lock(fd))
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                holder = _read_lock(fd)
                if locked is None and holder and _holds(holder):
                    self._refuse(holder)
                self.previous = holder or None
                info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.what,
                        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
                self.fd = fd
                return self
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
        raise CommandError(self.path, "the lock file keeps changing", "check that no other program removes it",
                           exit_status=2)

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """True: locked; False: another process holds it; None: the file system has no flock."""
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return None
            raise
        return True

    def _refuse(self, holder: dict[str, Any]) -> None:
        who = (f"process {holder.get('pid')} on {holder.get('host')} ({holder.get('command')}, since "
               f"{holder.get('started')})" if holder else "another process")
        raise CommandError(self.directory, f"{who} is writing into this directory (lock file {self.path})",
                           "wait until it has finished or stop it, then run the command again; nothing was done",
                           exit_status=2)

    @property
    def took_over(self) -> str | None:
        """A note on the dead holder whose lock was taken over, if there was one."""
        p = self.previous
        if not p or not p.get("pid"):
            return None
        pid, here = p.get("pid"), p.get("host") == socket.gethostname()
        if here and isinstance(pid, int) and pid_alive(pid):
            state = "still runs but no longer holds it (its pid may belong to another program now)"
        else:
            state = "no longer runs" if here else "no longer holds it"
        return (f"took over the lock of process {pid} on {p.get('host')} ({p.get('command')}, since "
                f"{p.get('started')}), which {state}")

    def release(self) -> None:
        """Remove the lock file and let go of the lock."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_lock(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data.decode("utf-8")) if data.strip() else {}
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _holds(holder: dict[str, Any]) -> bool:
    """Without flock: whether the process named in a lock file still runs (unknowable for another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        return pid_alive(int(holder["pid"]))
    except (KeyError, TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------------------------------
# run files that check themselves
# ------------------------------------------------------------------------------------------------------------

RUN_INFO_KEY = b"quartiersim"
REJECTED = "rejected"


def write_run(path: str | Path, table: Any, info: dict[str, Any], extra: dict[bytes, Any] | None = None) -> Path:
    """Write one run's table atomically as Parquet, with what identifies the run in the file's metadata.

    ``info`` is checked when the file is read back (:func:`check_run_file`): which run it is (its design point or
    scenario and its seed), the fingerprint of the design it belongs to, and the version that wrote it.
    ``extra`` adds more schema metadata (values written as JSON), such as the indicators' units.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = {**(arrow.schema.metadata or {}), RUN_INFO_KEY: json.dumps(info, default=str).encode()}
    for key, value in (extra or {}).items():
        meta[key] = json.dumps(value, default=str).encode()
    arrow = arrow.replace_schema_metadata(meta)
    return write_atomic(path, lambda p: pq.write_table(arrow, p))


def read_run_info(path: str | Path) -> dict[str, Any]:
    """The run information stored in a run file (empty if it has none)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    info = json.loads(meta.get(RUN_INFO_KEY, b"{}"))
    return info if isinstance(info, dict) else {}


def check_run_file(path: str | Path, expected: dict[str, Any], columns: dict[str, int] | None = None) -> str | None:
    """Why a stored run file cannot be used, or None when it is the run its name says.

    Args:
        path: the Parquet file.
        expected: values its run information must hold (e.g. point, seed, design, version).
        columns: whole-number columns whose every value must equal the given one (e.g. ``point`` and ``seed``).

    Returns:
        None, or the reason in words (unreadable, another run's, another design's, another version's).

    """
    import pyarrow.parquet as pq

    try:
        info = read_run_info(path)
        if columns:
            table = pq.read_table(path, columns=list(columns))
    except (OSError, ValueError, KeyError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        return f"it cannot be read as a run file ({type(exc).__name__}: {str(exc)[:200]})"
    for key, value in expected.items():
        if info.get(key) != value:
            found = info.get(key, "nothing")
            return f"its {key} is {found!r}, this store needs {value!r} (a file of another run or store)"
    for name, value in (columns or {}).items():
        col = table.column(name).to_pylist()
        if not col or any(v != value for v in col):
            return f"its '{name}' column does not hold {value} only (a file of another run)"
    return None


def reject(path: str | Path, root: str | Path, reason: str) -> Path:
    """Move a run file that cannot be used aside, into ``root/rejected/``, with the reason beside it.

    It is never used and never deleted: a person can look at it. Returns where it went.
    """
    path, root = Path(path), Path(root)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    target = root / REJECTED / path.relative_to(root).parent / f"{path.name}.{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    write_text_atomic(target.with_name(target.name + ".why.txt"), f"{path}\n{reason}\n")
    return target
