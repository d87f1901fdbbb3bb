"""ParseWorker: read_file's items, parsed in a child process while this one writes them.

Parsing a big file costs about as much CPU as writing its papers. ParseWorker runs read_file in
a second Python process and streams the items back through a pipe, so that parsing what comes
next overlaps the importer's database writes. The items, their order and the exceptions (raised
at the same point of the stream) are those of read_file in this process.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from dailypapers.core.models import PaperRecord
from dailypapers.ingest.files import open_binary, read_file
from dailypapers.ingest.records import Rejected

_WORKER_CHUNK = 250  # items per message
_WORKER_AHEAD = 32  # messages buffered ahead of the consumer, about 8,000 items
_PIPE_BYTES = 1 << 20  # Linux's default limit for unprivileged processes (fs.pipe-max-size)
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(PaperRecord))
# A record travels as the tuple of its fields: pickling a slots dataclass is several times slower.
_record_values = attrgetter(*_RECORD_FIELDS)


class WorkerStopped(RuntimeError):
    """The parsing process ended without a result (killed, out of memory)."""


class ParseWorker:
    """The items of read_file(path), parsed in a child process; `position` is for progress.

    Use it as a context manager (or call close()): closing stops the child.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.position = 0
        # The child gets this process's sys.path, so it imports this very code (a fresh interpreter
        # rather than a fork: safe in a threaded process, and it does not rerun anyone's __main__).
        start = f"import sys; sys.path[:] = {sys.path!r}; from {__name__} import worker_main; worker_main()"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", start, str(self.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # Ctrl-C reaches only this process, which then stops the child in close().
            start_new_session=True,
        )
        _widen_pipe(self._proc.stdout)
        self._messages: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=_WORKER_AHEAD)
        self._closing = threading.Event()
        # A thread drains the pipe, so the child keeps parsing while the consumer writes.
        self._reader = threading.Thread(target=self._read_messages, name="parse-worker-reader", daemon=True)
        self._reader.start()

    @staticmethod
    def available() -> bool:
        """Whether a child Python can be started here (embedded interpreters may have none)."""
        return bool(sys.executable)

    def _read_messages(self) -> None:
        assert self._proc.stdout is not None
        try:
            while True:
                message = pickle.load(self._proc.stdout)
                self._put(message)
                if message[0] != "items":
                    return
        except Exception:  # noqa: BLE001 - end of pipe or garbage: the child is gone
            self._put(("stopped",))

    def _put(self, message: tuple[Any, ...]) -> None:
        while not self._closing.is_set():
            try:
                self._messages.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[PaperRecord | Rejected]:
        while True:
            if self._closing.is_set():
                raise WorkerStopped(f"the parsing process for {self.path} was stopped")
            message = self._messages.get()
            if message[0] == "items":
                _, items, self.position = message
                for item in items:
                    yield PaperRecord(*item) if type(item) is tuple else item
            elif message[0] == "end":
                return
            elif message[0] == "error":
                raise message[1]
            else:
                self._proc.wait()
                raise WorkerStopped(
                    f"the parsing process for {self.path} stopped (exit status {self._proc.returncode})"
                )

    def close(self) -> None:
        """Stop the child (if still running) and the reader thread; a waiting consumer stops too."""
        self._closing.set()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._reader.join()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        # A consumer blocked on an empty queue wakes up; any other sees _closing before its next get.
        try:
            self._messages.put_nowait(("stopped",))
        except queue.Full:
            pass

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Let the pipe hold a whole message (Linux; elsewhere nothing changes).

    With the default 64 KiB the child waits for the reader thread several times per message,
    and the reader needs the GIL, which the writing thread holds between its database calls.
    """
    try:
        import fcntl  # here because it exists on Unix only

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # type: ignore[union-attr]
    except (ImportError, AttributeError, OSError):
        pass


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError saying what it was."""
    exc.add_note("(raised in the parsing process)\n" + "".join(traceback.format_exception(exc)))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)))
    return exc


def worker_main() -> None:
    """The child side of ParseWorker: parse the file named in argv[1], pickle the items to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # As in the importer: the collector would rescan the records in flight every few records,
    # and parsing makes next to no reference cycles (see importer._fewer_cycle_collections).
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    path = Path(sys.argv[1])
    out = sys.stdout.buffer
    items: list[Any] = []
    position = 0

    def send(*message: Any) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)

    try:
        try:
            stream, raw = open_binary(path)
            with raw:
                for item in read_file(path, stream).records:
                    items.append(_record_values(item) if type(item) is PaperRecord else item)
                    if len(items) >= _WORKER_CHUNK:
                        position = raw.tell()
                        send("items", items, position)
                        items = []
                position = raw.tell()
        except Exception as exc:  # noqa: BLE001
            # What was parsed before the error comes first, as it would in the parent process.
            send("items", items, position)
            send("error", _portable(exc))
        else:
            send("items", items, position)
            send("end")
        out.flush()
    except BrokenPipeError:
        pass  # the parent stopped listening: it closed us or is gone
