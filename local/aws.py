"""The embedded AWS: a moto server in this process, its DynamoDB data journaled under the data dir."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from local import ACCOUNT, REGION
from local.persistence import DynamoJournal


def _atomic_dynamodb(app: Any) -> Any:
    """moto serves requests on many threads without a lock, so a conditional write is not atomic there as it is in
    DynamoDB (two claims of one command could both succeed); one lock around each DynamoDB request restores that."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


class EmbeddedAws:
    def __init__(self, host: str, port: int, data_dir: Path) -> None:
        self.host, self.port = host, port
        self.journal = DynamoJournal(data_dir / "dynamodb", account_id=ACCOUNT, region=REGION)
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = _atomic_dynamodb(self.journal.wrap(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="moto", daemon=True).start()

    def restore(self) -> int:
        """Loads the journaled items into the (already provisioned) tables, then keeps journaling."""
        count = self.journal.restore()
        self.journal.start()
        return count

    def stop(self) -> None:
        """Stops serving first, so that no write lands after the journal's last flush."""
        if self._server is not None:
            self._server.shutdown()
        self.journal.close()
