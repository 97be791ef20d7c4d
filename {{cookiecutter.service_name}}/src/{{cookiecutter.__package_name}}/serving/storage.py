"""Model files from where the platform keeps them: ARTIFACTS_URI (s3://, gs://,
https://, any fsspec URL; a file or a folder) fetched into ARTIFACTS_DIR at start.

The first worker fetches (a file lock), the others wait and reuse its files; while
they wait, readiness says for what. A store that cannot be reached is tried again
with backoff; files that do not match ARTIFACTS_SHA256 keep the service unready,
with one line in the log. Needs the `storage` extra (fsspec, s3fs; gcsfs for gs://).
"""

import fcntl
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
DONE = ".artifacts-uri"  # in ARTIFACTS_DIR: the URI its files were fetched from
FIRST_DELAY, MAX_DELAY = 0.5, 30.0  # seconds between attempts: 0.5, 1, 2 ... 30


class FetchFailed(Exception):
    """The files cannot be used (pin mismatch): trying again would not help."""


def check(uri: str) -> str:
    """'' if ARTIFACTS_URI can be fetched with what is installed, else why not."""
    if not uri:
        return ""
    try:
        import fsspec

        fsspec.get_filesystem_class(uri.partition("://")[0])
    except (ImportError, ValueError) as error:
        return (
            f"ARTIFACTS_URI={uri!r} needs the storage packages ({error}): install the"
            " service with its `storage` extra, e.g. pip install '.[storage]'"
        )
    return ""


def _marker(folder: Path, suffix: str) -> Path:
    return folder.with_name(folder.name + suffix)


def reset(folder: Path) -> None:
    """At start, before the workers: forget an earlier run's failure."""
    _marker(folder.resolve(), ".failed").unlink(missing_ok=True)


def fetch(
    uri: str, folder: Path, pin: str, say: Callable[[str], None], digest: Callable
) -> None:
    """Fill `folder` with the files at `uri`, once for all workers. say(reason) tells
    readiness what this worker waits for; FetchFailed: the files do not match pin."""
    folder = folder.resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    failed = _marker(folder, ".failed")
    say(f"waiting for another worker to fetch the model files from {uri}")
    with _marker(folder, ".lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():  # the first worker has logged why
            raise FetchFailed(failed.read_text(encoding="utf-8"))
        done = folder / DONE
        if done.exists() and done.read_text(encoding="utf-8") == uri:
            return
        partial = _download(uri, _marker(folder, ".partial"), say)
        fetched = digest(partial)
        if pin and fetched != pin.lower():
            shutil.rmtree(partial, ignore_errors=True)
            message = (
                f"the model files from {uri} do not match ARTIFACTS_SHA256: pinned"
                f" {pin}, fetched {fetched}"
            )
            failed.write_text(message, encoding="utf-8")
            log.error(message)
            raise FetchFailed(message)
        (partial / DONE).write_text(uri, encoding="utf-8")
        _replace(folder, partial)
        log.info(f"fetched the model files from {uri} into {folder} ({fetched[:12]})")


def _download(uri: str, partial: Path, say: Callable[[str], None]) -> Path:
    """Download into a fresh `partial` folder, trying again with backoff."""
    attempt = 0
    while True:
        attempt += 1
        say(f"fetching the model files from {uri} (attempt {attempt})")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            _get(uri, partial)
            return partial
        except Exception as error:  # unreachable, refused, missing, no credentials
            delay = min(FIRST_DELAY * 2 ** (attempt - 1), MAX_DELAY)
            problem = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            log.warning(
                f"could not fetch the model files from {uri} (attempt {attempt}):"
                f" {problem}; trying again in {delay:g} s"
            )
            say(f"could not fetch the model files from {uri} ({problem}); trying again")
            time.sleep(delay)


def _get(uri: str, partial: Path) -> None:
    """One file, or a folder's files, from any fsspec URL."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    if not uri.startswith(("http://", "https://")) and fs.isdir(path):
        fs.get(path.rstrip("/") + "/", str(partial), recursive=True)
    else:
        fs.get(path, str(partial / Path(path.rstrip("/")).name))
    if not any(partial.iterdir()):
        raise FileNotFoundError(f"no files at {uri}")


def _replace(folder: Path, partial: Path) -> None:
    """Put the fetched files in `folder` (which may be a mount point: kept)."""
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    for new in partial.iterdir():
        new.rename(folder / new.name)
    partial.rmdir()
