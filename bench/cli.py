"""What every `python -m bench.<part>` command line shares: `--json` for the JSON alone, else the table first."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable


def parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of `module`, described by its docstring's first line, with `--json`."""
    found = argparse.ArgumentParser(prog=f"python -m {module}", description=(doc or "").splitlines()[0])
    found.add_argument("--json", action="store_true", help="print only the JSON")
    return found


def emit(result: dict[str, Any], table: Callable[[dict[str, Any]], str], json_only: bool) -> int:
    """Prints the readable table (unless `json_only`), then the JSON; the command's exit status."""
    if not json_only:
        print(table(result), end="\n\n")
    print(json.dumps(result, indent=2))
    return 0
