"""What the CLI prints: tables for people (rich when installed), JSON for scripts, one-line errors."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

try:  # the optional ``cli`` extra
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
except ImportError:  # pragma: no cover - exercised only without the extra
    Console = None  # type: ignore[assignment,misc]
    Table = None  # type: ignore[assignment,misc]
    Text = None  # type: ignore[assignment,misc]

WIDE = 200  # when stdout is not a terminal: never truncate an id


class Output:
    """Prints results to stdout and progress/errors to stderr; safe to call from several threads."""

    def __init__(self, *, as_json: bool, prog: str) -> None:
        self.as_json = as_json
        self.prog = prog
        self._lock = threading.Lock()

    def _console(self, stream: Any) -> Any:
        if Console is None:
            return None
        if stream.isatty():
            return Console(file=stream)
        return Console(file=stream, width=max(WIDE, shutil.get_terminal_size().columns), soft_wrap=True)

    def json(self, value: Any) -> None:
        with self._lock:
            print(json.dumps(value, ensure_ascii=False, separators=(",", ":")), flush=True)

    def line(self, text: str) -> None:
        with self._lock:
            print(text, flush=True)

    def note(self, text: str) -> None:
        """Progress and hints for people: stderr, never mixed into results."""
        with self._lock:
            print(text, file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        with self._lock:
            print(f"{self.prog}: {text}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def progress(self, text: str) -> Iterator[None]:
        """A spinner on stderr while a long step runs (only when stderr is a terminal)."""
        console = self._console(sys.stderr) if sys.stderr.isatty() and not self.as_json else None
        if console is None:
            yield
            return
        with console.status(text):
            yield

    def fields(self, title: str, rows: Sequence[tuple[str, Any]]) -> None:
        """A two-column ``name  value`` block."""
        shown = [(name, _text(value)) for name, value in rows if value is not None and value != ""]
        console = self._console(sys.stdout)
        with self._lock:
            if console is None:
                print(title)
                width = max((len(name) for name, _ in shown), default=0)
                for name, value in shown:
                    print(f"  {name.ljust(width)}  {value}")
                return
            table = Table(
                title=Text(title), title_justify="left", show_header=False, box=None, padding=(0, 2)
            )
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")
            for name, value in shown:
                table.add_row(Text(name), Text(value))
            console.print(table)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
        if not rows:
            self.note(empty)
            return
        cells = [[_text(cell) for cell in row] for row in rows]
        console = self._console(sys.stdout)
        with self._lock:
            if console is None:
                widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
                print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
                for row in cells:
                    print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
                return
            table = Table(*headers, box=None, padding=(0, 2), header_style="bold")
            for column in table.columns:
                column.no_wrap = True
            for row in cells:
                table.add_row(*(Text(cell) for cell in row))
            console.print(table)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
