"""Where results may be written: safe names, checked output paths, folder locks, atomic writes.

Every command that writes (``run``, ``report``, ``payout``, ``sweep``, ``stress``) goes
through this module, so the same rules hold everywhere (see docs/safety.md):

* a name read from a file (a scenario's or a sweep's ``name``) becomes one plain path
  component (:func:`safe_name`): no ``..``, no ``/``, no absolute path;
* an output folder (:func:`output_folder`) or file (:func:`output_file`) is refused, before
  anything runs, if it is empty, a device, a file where a folder is expected (or the
  reverse), or one of the command's input files;
* everything written stays inside the folder the user chose (:func:`inside`): a symbolic
  link inside it that points elsewhere is refused, not followed;
* one writer per folder (:class:`FolderLock`): a second command writing the same folder is
  refused with exit status 2;
* every file is written to a temporary name in its folder and renamed into place
  (:func:`atomic_write`), so a reader never sees half a file; temporary files left by a
  process that was killed are removed by the next command writing that folder
  (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from simulation.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None

# Temporary files: ".<final name>.<random>.tmp" in the final file's folder.
TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
MAX_NAME = 80

_UNSAFE = re.compile(r"[^\w.-]+")  # \w: letters and digits of any script, and _
_TMP_NAME = re.compile(r"\.(.+)\.[A-Za-z0-9_]{8}\.tmp")


def safe_name(name: str, default: str = "unnamed") -> str:
    r"""``name`` as one safe path component (letters, digits, ``.``, ``_``, ``-``).

    Letters and digits of any script are kept (``Übersicht`` stays ``Übersicht``).

    Anything else (``/``, ``\\``, spaces, ``..`` at the start) is replaced or stripped, so a
    name from a file can never climb out of the results folder or name an absolute path.

    Examples: ``"../../x"`` -> ``"x"``; ``"/etc/cron.d"`` -> ``"etc_cron.d"``;
    ``"my scenario"`` -> ``"my_scenario"``; ``".."`` -> ``default``.
    """
    text = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", str(name)))
    text = re.sub(r"_{2,}", "_", text).strip("._-")
    text = text[:MAX_NAME].strip("._-")
    return text or default


def path_arg(text: str) -> Path | str:
    """An argparse ``type`` for output paths: ``Path(text)``, but an empty text stays ``""``.

    ``Path("")`` is ``Path(".")``, the current folder; keeping the empty text lets
    :func:`output_folder` and :func:`output_file` refuse ``--out ""`` instead of writing into
    the current folder.
    """
    return Path(text) if text.strip() else text


def _describe(path: Path) -> str | None:
    """What ``path`` is, if it is something other than a plain file or folder (or absent)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def _check_not_empty(path: Path | str | None, option: str) -> Path:
    if path is None or str(path).strip() == "":
        raise UserError(f"{option} is empty: give a folder or file name")
    return Path(path)


def output_folder(path: Path | str, option: str = "--out", inputs: Iterable[Path] = ()) -> Path:
    """Check a folder to write results into (it may not exist yet); returns it as a Path.

    Raises:
        UserError: empty, a device or other special file, an existing file, or one of the
            command's ``inputs`` (or a folder holding one of them... is allowed: inputs are
            only refused as the output itself).
    """
    p = _check_not_empty(path, option)
    kind = _describe(p)
    if kind:
        raise UserError(f"{option} {p}: is {kind}, expected a folder")
    if p.exists() and not p.is_dir():
        raise UserError(f"{option} {p}: is a file, expected a folder")
    for q in inputs:
        if q is not None and _same_file(p, Path(q)):
            raise UserError(f"{option} {p}: is an input of this command; choose another folder")
    parent = next((a for a in p.absolute().parents if a.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{option} {p}: {parent} is a file, not a folder")
    return p


def output_file(path: Path | str, option: str = "--out", inputs: Iterable[Path] = ()) -> Path:
    """Check a file to write (it may not exist yet); returns it as a Path.

    Raises:
        UserError: empty, a folder, a device or other special file, one of the command's
            ``inputs``, or a path whose folder is a file.
    """
    p = _check_not_empty(path, option)
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        raise UserError(f"{option} {p}: is a folder, expected a file name")
    kind = _describe(p)
    if kind:
        raise UserError(f"{option} {p}: is {kind}, expected a regular file")
    for q in inputs:
        if q is not None and _same_file(p, Path(q)):
            raise UserError(
                f"{option} {p}: is the input file {q}; writing it would destroy the input, "
                "choose another name"
            )
    parent = p.absolute().parent
    existing = next((a for a in (parent, *parent.parents) if a.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{option} {p}: {existing} is a file, not a folder")
    return p


def inside(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refused if it leaves ``root`` (``..`` or a symbolic link).

    Raises:
        UserError: the path, once symbolic links are resolved, is not inside ``root``.
    """
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise UserError(f"{root}: refusing to write {relative}: outside the output folder")
    target = root / rel
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(target))
    if real != real_root and real_root not in real.parents:
        raise UserError(
            f"{target}: is a symbolic link (or inside one) pointing outside {root}; "
            "refusing to follow it (remove the link or choose another --out)"
        )
    return target


def make_folder(path: Path, root: Path | None = None) -> Path:
    """``mkdir -p`` ``path``; within ``root`` (if given) no symbolic link may lead out."""
    if root is not None:
        inside(root, path.relative_to(root) if path != root else ".")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{path}: is a file, expected a folder") from None
    except OSError as err:
        raise UserError(f"{path}: cannot create the folder: {err.strerror}") from None
    return path


def write_output_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write one output file a command was given (``--out FILE``, see :func:`output_file`).

    Its folder is made, one writer at a time holds it, and the file is replaced at once.
    """
    folder = make_folder(path.parent)
    with FolderLock(folder, name=f".{path.name}.lock", remove=True):
        atomic_write(path, write)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path`` (same folder: an atomic rename).

    The rename replaces ``path`` itself: if ``path`` is a symbolic link, the link is
    replaced, its target is not touched. A special file (device, pipe) is never replaced.
    """
    path = Path(path)
    kind = _describe(path)
    if kind:
        raise UserError(f"{path}: is {kind}; refusing to replace it")
    if path.is_dir() and not path.is_symlink():
        raise UserError(f"{path}: is a folder, expected a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f"{TMP_PREFIX}{path.name}.", suffix=TMP_SUFFIX, dir=path.parent
        )
    except OSError as err:
        raise UserError(f"{path}: cannot write in {path.parent}: {err.strerror}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp makes the file owner-only; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def is_temporary(name: str, final: str | None = None) -> bool:
    """True for a name :func:`atomic_write` gives its temporary files.

    That is ``.<final name>.<8 random characters>.tmp`` (``tempfile.mkstemp``); with
    ``final``, only temporaries of that file.
    """
    m = _TMP_NAME.fullmatch(name)
    return m is not None and (final is None or m.group(1) == final)


def remove_stale_temporaries(folder: Path, subfolders: Iterable[str] = ("figures", "runs")) -> int:
    """Delete temporary files left in ``folder`` by a killed process.

    Only names :func:`is_temporary` recognises, only in ``folder`` and its ``subfolders``
    (the ones mlmsim writes; not every folder below, which may be the user's), and never
    through a symbolic link. Call it only while holding the folder's :class:`FolderLock`:
    no other writer is then active, so every such file there is stale.

    Returns:
        The number of files removed.
    """
    removed = 0
    for sub in (folder, *(folder / s for s in subfolders)):
        if sub.is_symlink() or not sub.is_dir():
            continue
        for p in sub.iterdir():
            if is_temporary(p.name) and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)
                removed += 1
    return removed


class FolderLock:
    """An exclusive lock on an output folder: ``.lock`` inside it, held with ``flock``.

    The operating system releases the lock when the holder exits, however it exits (even
    SIGKILL), so a crashed command never blocks the next one. A second writer is refused at
    once (exit status 2) rather than waiting. ``remove=True`` deletes the lock file on
    release (for folders the user owns, such as the folder of a payout table), safely: a
    holder checks after locking that the file it locked is still the one at the path.

    Use as a context manager::

        with FolderLock(out):
            ...
    """

    def __init__(self, folder: Path, name: str = LOCK_FILE, remove: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.remove = remove
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`UserError`."""
        if fcntl is None:  # pragma: no cover - Windows: no advisory locks
            return
        if self.path.is_symlink():
            raise UserError(f"{self.path}: is a symbolic link; refusing to follow it")
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as err:
                raise UserError(f"{self.folder}: cannot write here: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UserError(
                    f"{self.folder}: another mlmsim command is writing this folder right now "
                    f"({self.path.name} is locked); wait for it to finish or choose another "
                    "--out"
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return
            os.close(fd)  # the previous holder removed the file as we opened it: retry
        raise UserError(f"{self.folder}: cannot lock the folder (its lock file keeps changing)")

    def release(self) -> None:
        """Release the lock (and remove the lock file if asked)."""
        if self.fd is None:
            return
        if self.remove:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def refuse_escaping_links(folder: Path) -> None:
    """Refuse a folder holding a symbolic link (at any depth) that points outside it.

    Raises:
        UserError: naming the link.
    """
    real_root = Path(os.path.realpath(folder))
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath, name)
            if not p.is_symlink():
                continue
            real = Path(os.path.realpath(p))
            if real != real_root and real_root not in real.parents:
                raise UserError(
                    f"{p}: is a symbolic link pointing outside {folder}; refusing to follow "
                    "it (remove the link or choose another --out)"
                )


@contextlib.contextmanager
def locked_folder(
    path: Path | str,
    *,
    option: str = "--out",
    inputs: Iterable[Path] = (),
    check: Callable[[Path], None] | None = None,
    new: bool = False,
) -> Iterator[Path]:
    """Check, create and lock an output folder for the duration of a ``with`` block.

    In order: :func:`output_folder` checks; the folder is created (with its parents); its
    :class:`FolderLock` is taken (a second writer is refused); no symbolic link inside may
    point out of it; ``check(folder)`` may refuse it (e.g. a finished run); temporary files
    left by a killed process are removed. If the block fails, folders this call created (and
    the folder itself if ``new``: the caller just created it) are removed again when empty,
    so a refused or failed command leaves nothing behind.

    Yields:
        The folder.
    """
    p = output_folder(path, option, inputs)
    if p.is_dir():  # refuse before touching the folder at all; checked again under the lock
        refuse_escaping_links(p)
        if check is not None:
            check(p)
    created = [a for a in (p.absolute(), *p.absolute().parents) if not a.exists()]
    if new and not created:
        created = [p.absolute()]
    make_folder(p)
    lock = FolderLock(p, remove=True)
    ok = False
    try:
        lock.acquire()
        refuse_escaping_links(p)
        if check is not None:
            check(p)
        remove_stale_temporaries(p)
        yield p
        ok = True
    finally:
        lock.release()
        if not ok:
            for folder in created:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break
