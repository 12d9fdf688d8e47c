"""The public route of the short file URLs: `GET|PUT /files/{token}[/{name}]` answers 307 to a presigned S3 URL.

No API key: chargers cannot send one, and the token (services/diagnostics/files.py) is the credential. A GET token
leads to a firmware image, a PUT token to where a diagnostics upload goes; the charger follows the redirect (a PUT
client re-sends its body to S3). A charger that appends its own file name to the location is answered the same:
the token alone says where the file goes. Not offered: uploads by POST (multipart forms) or FTP.
"""

from __future__ import annotations

from typing import Any

from services.diagnostics import files, transfers
from services.shared import clock
from services.shared.rest import PROBLEM_JSON, Problem


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = Problem(title=title, status=status, detail=detail).model_dump_json()
    return {"statusCode": status, "headers": {"Content-Type": PROBLEM_JSON, **(headers or {})}, "body": body}


def answer(event: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's REST proxy event to its reply."""
    method = event.get("httpMethod") or ""
    # After the route's own prefix, whatever a custom domain's base path mapping put before it.
    _, found, rest = (event.get("path") or "").partition(f"{files.FILES_PREFIX}/")
    parts = rest.strip("/").split("/")
    token = parts[0] if found else ""
    if not token or len(parts) > 2:
        return _problem(404, "Not found", "A file URL is /files/{token} (or /files/{token}/{file name})")
    if method not in ("GET", "PUT"):
        return _problem(405, "Method not allowed", f"A file URL takes GET (a firmware image) or PUT (an upload), not "
                                                   f"{method}", {"Allow": "GET, PUT"})
    try:
        location = transfers.redirect(token, method, clock.now())
    except files.BadToken as error:
        return _problem(403, "Forbidden", f"Not a valid file URL: {error}; ask for a new one")
    except PermissionError as error:
        return _problem(405, "Method not allowed", f"This file URL takes {error.args[0]} only", {"Allow": error.args[0]})
    return {"statusCode": 307, "headers": {"Location": location, "Cache-Control": "no-store"}, "body": ""}
