"""Shared CLI output: one-line errors, JSON, and the rich console."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# No emoji codes: ":end:" in "START:END:STEP" would print as an emoji.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: <message>`` (first line only) on stderr and exit non-zero."""
    print_error(message)
    raise typer.Exit(code)


def print_error(message: str) -> None:
    """``error: <message>`` (first line only) on stderr."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    err_console.print(f"[bold red]error:[/] {escape(first)}", highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colors, no wrapping)."""
    typer.echo(json.dumps(data, indent=2, default=str))
