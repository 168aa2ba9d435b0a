"""How commands print: one-line errors, short dates and titles, and JSON in the API's schemas."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

import click
from pydantic import BaseModel

#: Exit status for errors Tidings reports on purpose (bad input, unreachable database …).
EXIT_ERROR = 1


#: The ``--json`` flag of every command that can print JSON.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def short(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def echo_json(data: BaseModel | Sequence[BaseModel]) -> None:
    """Print what a command shows in the HTTP API's own schema (``tidings.api.schemas``),
    serialised as the API sends it, so a script reads one shape from either."""
    if isinstance(data, BaseModel):
        value: object = data.model_dump(mode="json")
    else:
        value = [item.model_dump(mode="json") for item in data]
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
