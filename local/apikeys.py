"""`csms api-keys`: operator API keys of the local stack or of a deployed stage.

A deployed stage has no other way to get its first key, so this path needs only boto3 and the user's AWS
credentials: nothing of the local stack (moto, gateways) is imported for `--stage`.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from local import target

if TYPE_CHECKING:
    from local.stack import Config

# A key set by hand (CSMS_API_KEY) has the generated keys' form, since its id is what `list` shows and `revoke`
# takes; its secret may be any 16 or more of the characters a generated one uses (which has 32).
_LOCAL_KEY = re.compile(r"csms_[A-Za-z0-9-]{1,32}_[A-Za-z0-9-]{16,}")
LOCAL_KEY_FORM = ("csms_<id>_<secret>: an id of 1-32 letters, digits or hyphens, then a secret of 16 or more, "
                  "e.g. csms_dev_0123456789abcdef")
KEY_FILE = "api-key"


def local_key_problem() -> str | None:
    """What is wrong with CSMS_API_KEY, if it is set: checked before the stack starts, which takes seconds."""
    text = os.environ.get("CSMS_API_KEY")
    if text is None or _LOCAL_KEY.fullmatch(text):
        return None
    return f"CSMS_API_KEY must have the form {LOCAL_KEY_FORM}; or unset it, and `csms run` makes a key"


def operator_key(data_dir: Path) -> str:
    """CSMS_API_KEY if set, else the key generated on the first start and kept in `<data_dir>/api-key` (mode 600),
    so that restarts, `make demo` and `csms simulate` find the same one."""
    from services.shared import auth

    path = data_dir / KEY_FILE
    text = os.environ.get("CSMS_API_KEY") or (path.read_text().strip() if path.exists() else "")
    if text and not _LOCAL_KEY.fullmatch(text):
        where = "CSMS_API_KEY" if os.environ.get("CSMS_API_KEY") else str(path)
        raise SystemExit(f"{where} does not hold a key of the form {LOCAL_KEY_FORM}; "
                         f"unset CSMS_API_KEY and delete {path}, and `csms run` makes one")
    if not text:
        text = str(auth.new_api_key())
        path.write_text(text + "\n")
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    key = auth.parse_api_key(text)
    assert key is not None
    if not auth.store_api_key(key, name="local operator", scopes=("admin",)) and auth.check_api_key(text) is None:
        raise SystemExit(f"the local operator key {key.key_id} was revoked (or CSMS_API_KEY's secret is not its own): "
                         f"unset CSMS_API_KEY and delete {path} to make a new one")
    return text


class _Scopes:
    """auth.SCOPES, read only when a scope is checked or help is shown: importing auth brings boto3 and pydantic
    (over half a second) into every `csms` command's parsing. Needs a metavar, or argparse reads it at once."""

    def _scopes(self) -> tuple[str, ...]:
        from services.shared.auth import SCOPES

        return SCOPES

    def __contains__(self, scope: object) -> bool:
        return scope in self._scopes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._scopes())


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a key needs a name that says who or what uses it")
    return text.strip()


def add_parser(commands: Any, stack: argparse.ArgumentParser) -> None:
    """`api-keys` under `commands`; `stack` holds the --host/--aws-port options that find the local stack."""
    keys = commands.add_parser("api-keys", help="create, list and revoke operator API keys (local or a deployed stage)")
    actions = keys.add_subparsers(dest="action", required=True)
    stage = target.options(stack)
    create = actions.add_parser("create", parents=[stage], help="make a key; it is printed this once only")
    create.add_argument("--name", required=True, type=_name, help="who or what uses the key")
    create.add_argument("--scope", dest="scopes", action="append", choices=_Scopes(), metavar="SCOPE",
                        help="%(choices)s; repeat for several (default: admin)")
    actions.add_parser("list", parents=[stage], help="every key's id, name, scopes and dates (never a secret)")
    revoke = actions.add_parser("revoke", parents=[stage], help="stop a key from working, for good")
    revoke.add_argument("key_id", help="the key's id (`csms api-keys list`), or the whole key")


def run(args: argparse.Namespace, local: Config | None) -> int:
    """Runs the action against the local stack described by `local`, or against AWS if it is None."""
    return target.run(args, local, _ACTIONS[args.action], missing=lambda: f"no table {_where()}")


def _where() -> str:
    from services.shared import aws

    table = aws.table("api-keys")
    return f"{table.name} in {table.meta.client.meta.region_name}"


def _create(args: argparse.Namespace) -> int:
    from services.shared import auth

    key = auth.new_api_key()
    scopes = tuple(dict.fromkeys(args.scopes or ("admin",)))
    if not auth.store_api_key(key, name=args.name, scopes=scopes):
        print(f"csms: key id {key.key_id} is taken (a one-in-2^48 chance): run the command again", file=sys.stderr)
        return 1
    print(key)
    print(f"key_id: {key.key_id}")
    print(f"name:   {args.name}")
    print(f"scopes: {' '.join(scopes)}")
    print(f"stored in {_where()}")
    print("Keep the key now: only its hash is stored, so it cannot be shown again.", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from services.shared import auth

    records = auth.list_api_keys()
    if not records:
        print(f"no API keys in {_where()}", file=sys.stderr)
        return 0
    rows = [("KEY_ID", "NAME", "SCOPES", "CREATED_AT", "REVOKED_AT")]
    rows += [(record["key_id"], record.get("name", ""), " ".join(record.get("scopes", [])),
              record.get("created_at", ""), record.get("revoked_at", "-")) for record in records]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for *cells, last in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + "  " + last)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from services.shared import auth

    whole = auth.parse_api_key(args.key_id)  # a leaked key pasted whole: revoke it, and do not echo its secret
    key_id = whole.key_id if whole else args.key_id
    record = auth.revoke_api_key(key_id)
    if record is None:
        print(f"csms: no API key {key_id!r} in {_where()} (see `csms api-keys list`)", file=sys.stderr)
        return 1
    print(f"{record['key_id']} ({record.get('name', '')}) revoked at {record['revoked_at']}")
    return 0


_ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"create": _create, "list": _list, "revoke": _revoke}
