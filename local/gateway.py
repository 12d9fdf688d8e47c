"""A websocket gateway that behaves like API Gateway WebSocket APIs, for chargers on one machine.

What a charger and the handlers see is what they see in AWS: `/ocpp/[...]/{id}` arrives as the
`charge_point_id` query parameter, by the rule of infra/functions/charger_path.js (CloudFront's job
in AWS; see `charge_point_id_from_path`); $connect runs the REQUEST
authorizer and then the $connect route, whose `Sec-WebSocket-Protocol` header picks the
subprotocol; every later frame carries the authorizer's context; `$default`'s body is the
route response; frames over 32 KB close with 1009, idle connections after 10 minutes,
every connection after 2 hours; past the stage's throttling (the deployment's `ocpp_rate_limit`
and `ocpp_burst_limit`, a token bucket shared by all connections) a frame is not delivered and
the charger gets a `Too Many Requests` frame, its connection kept. The @connections management
API is served beside it.

Where AWS runs each invocation in a Lambda instance of its own, here they share a thread pool, so
the gateway shares it fairly (see `Turns`): a connection's frames are handled one at a time and in
order, and a connection that sends more than the others waits behind them; a frame past the
`FRAMES_QUEUED` waiting of its connection is answered as a throttled one. The authorizer, a
function of its own in AWS, has a pool of its own too, shared the same way between charge point ids
(one whose wrong passwords are retried waits behind a charger connecting for the first time), and a
bounded number of handshakes wait for it: past that a handshake is answered 429, as API Gateway
answers one past its connection rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import re
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import websockets
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as HttpRequest
from werkzeug.wrappers import Response as HttpResponse

from local.invocations import authorizer_event, connect_event, disconnect_event, message_event, new_connection_id, request_context
from local.lambdas import Abandoned, Runtime
from services.shared.manifest import WebSocketRoutes

log = logging.getLogger("csms.gateway")

API_ID = "local"
STAGE = "local"
FRAME_LIMIT = 32 * 1024
IDLE_TIMEOUT_S = 600
MAX_CONNECTION_S = 7200
# API Gateway's integration timeout: the authorizer and $connect may take this long before a handshake fails.
CONNECT_TIMEOUT_S = 29
# The stage throttling infra/stack.py's Options deploy by default (ocpp_rate_limit, ocpp_burst_limit).
OCPP_RATE_LIMIT = 2000
OCPP_BURST_LIMIT = 5000
# Frames of one connection received and waiting for their turn; one more is answered as a throttled one
# (where AWS would have invoked it at once), so a flood costs memory for these only. Not reading them instead
# would leave the charger's WebSocket pings unanswered, and it would drop the connection.
FRAMES_QUEUED = 16
# Handshakes waiting for (or in) the authorizer; more are answered 429 at once. A reconnect storm of 1,000
# chargers fits (128 turned most of one away, each refusal a retry later); a waiting handshake costs little.
HANDSHAKES_WAITING = 1024


@dataclass
class Connection:
    connection_id: str
    websocket: ServerConnection | None
    authorizer: dict[str, Any]
    headers: dict[str, str]
    source_ip: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    subprotocol: str | None = None
    opened: bool = False  # the handshake completed and the frames loop runs


class PathRefused(ValueError):
    """The answer the CloudFront Function gives in AWS before API Gateway is reached."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body.strip())
        self.status = status
        self.body = body


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def charge_point_id_from_path(path: str) -> str:
    """The charge point id a charger connecting to `path` claims, as infra/functions/charger_path.js reads it.

    OCPP-J chargers append their identity to the CSMS URL, so it is the last non-empty segment after a
    leading `ocpp` one (segments between are ignored), percent-decoded as strictly as JavaScript's
    decodeURIComponent: local mode must accept and refuse exactly what AWS does.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "ocpp":
        raise PathRefused(404, "Connect to /ocpp/{charge_point_id}\n")
    try:
        charge_point_id = None if _BAD_ESCAPE.search(parts[-1]) else unquote(parts[-1], errors="strict")
    except UnicodeDecodeError:
        charge_point_id = None
    if charge_point_id is None:
        raise PathRefused(400, "Malformed percent-encoding in the charge point id\n")
    if charge_point_id in (".", ".."):
        raise PathRefused(400, "The charge point id cannot be . or ..\n")
    return charge_point_id


class TokenBucket:
    """API Gateway's throttling algorithm: on average `rate` requests a second, at most `burst` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Turns:
    """At most `slots` invocations at once of those waiting here; a free slot goes to the waiting key (a
    connection, a charger's handshake) served least recently. A key that floods is always the one served
    last: another's invocation waits for at most one turn of each key waiting with it, never for the flood."""

    def __init__(self, slots: int, remembered: int = 10_000) -> None:
        self.slots = slots
        self.busy = 0
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()
        self._served: OrderedDict[str, float] = OrderedDict()  # the last turn of each key (monotonic), oldest first
        self._remembered = remembered

    @property
    def waiting(self) -> int:
        return sum(1 for *_, turn in self._waiting if not turn.done())

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        await self._acquire(self._served.get(key, 0.0))
        self._served[key] = time.monotonic()
        self._served.move_to_end(key)
        if len(self._served) > self._remembered:  # one forgotten counts as never served: it only gains
            self._served.popitem(last=False)
        try:
            yield
        finally:
            self._release()

    def forget(self, key: str) -> None:
        self._served.pop(key, None)

    async def _acquire(self, served_at: float) -> None:
        if self.busy < self.slots and not self.waiting:
            self.busy += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (served_at, next(self._arrival), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed the slot as it was cancelled
                self._release()
            raise

    def _release(self) -> None:
        while self._waiting:
            *_, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the slot passes to it
                return
        self.busy -= 1


# --- the events API Gateway hands the functions ------------------------------------------------

def multi_value_headers(raw: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Every value of each header, in order, under the name as first sent (names match case-insensitively):
    a header sent twice (two `Authorization`s) shows both, for the authorizer to refuse."""
    spelled: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in raw:
        values.setdefault(spelled.setdefault(name.lower(), name), []).append(value)
    return values


def error_frame(message: str, conn: Connection, request_id: str) -> str:
    """What API Gateway sends a charger instead of a route response it could not get (a failed integration,
    a throttled frame)."""
    return json.dumps({"message": message, "connectionId": conn.connection_id, "requestId": request_id})


class Gateway:
    def __init__(self, routes: WebSocketRoutes, default: str, runtime: Runtime, host: str, port: int, management_port: int,
                 *, idle_timeout_s: float = IDLE_TIMEOUT_S, max_connection_s: float = MAX_CONNECTION_S,
                 rate_limit: float = OCPP_RATE_LIMIT, burst_limit: int = OCPP_BURST_LIMIT, frames_in_flight: int | None = None,
                 frames_queued: int = FRAMES_QUEUED, handshakes_waiting: int = HANDSHAKES_WAITING,
                 tls: ssl.SSLContext | None = None, tls_port: int | None = None) -> None:
        """`frames_in_flight` (default: half the runtime's workers) bounds the pool's threads frames take, leaving
        the rest to handshakes, the REST API and the queues. With `tls`, the same routes are served over TLS on
        `tls_port` too (security profile 2: TLS and Basic; API Gateway's own wss:// in AWS)."""
        self.routes = routes
        self.default = default
        self.runtime = runtime
        self.host, self.port, self.management_port = host, port, management_port
        self.idle_timeout_s = idle_timeout_s
        self.max_connection_s = max_connection_s
        self.throttle = TokenBucket(rate_limit, burst_limit)
        self.turns = Turns(frames_in_flight or max(1, runtime.workers // 2))
        self.handshake_turns = Turns(runtime.authorizer_workers)
        self.frames_queued = frames_queued
        self.handshakes_waiting = handshakes_waiting
        self.authorizing = 0
        self.connections: dict[str, Connection] = {}
        self._watchers: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tls, self.tls_port = tls, tls_port
        self._servers: list[Any] = []
        self._management: Any = None

    # --- the websocket side -------------------------------------------------------------

    def _request_context(self, conn: Connection, route: str, event_type: str) -> dict[str, Any]:
        return request_context(route, event_type, conn.connection_id, connected_at_ms=int(conn.connected_at * 1000),
                               source_ip=conn.source_ip, user_agent=conn.headers.get("User-Agent", ""),
                               domain_name=f"{self.host}:{self.port}", api_id=API_ID, stage=STAGE)

    async def _process_request(self, websocket: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            query["charge_point_id"] = charge_point_id_from_path(url.path)
        except PathRefused as refused:
            return websocket.respond(refused.status, refused.body)
        multi = multi_value_headers(request.headers.raw_items())
        conn = Connection(new_connection_id(), None, {}, {k: v[-1] for k, v in multi.items()},
                          websocket.remote_address[0] if websocket.remote_address else "")
        context = self._request_context(conn, "$connect", "CONNECT")
        multi_query = {k: [v] for k, v in query.items()}

        def waiting() -> bool:
            return websocket.transport is not None and not websocket.transport.is_closing()

        if self.authorizing >= self.handshakes_waiting:
            return websocket.respond(429, "Too Many Requests\n")
        self.authorizing += 1
        try:
            async with self.handshake_turns.turn(query["charge_point_id"]):
                policy = await self.runtime.invoke_async(self.routes.authorizer, authorizer_event(context, multi, multi_query),
                                                         waiting, pool="authorizer")
        except Abandoned:
            return websocket.respond(408, "Request Timeout\n")
        except PermissionError:
            return websocket.respond(401, "Unauthorized\n")
        except Exception:
            log.exception("authorizer failed")
            return websocket.respond(500, "Internal server error\n")
        finally:
            self.authorizing -= 1
        statements = (policy.get("policyDocument") or {}).get("Statement") or []
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            return websocket.respond(403, "Forbidden\n")
        conn.authorizer = {**(policy.get("context") or {}), "principalId": policy.get("principalId")}
        try:
            reply = await self.runtime.invoke_async(self.routes.connect, connect_event(context, conn.authorizer, multi, multi_query),
                                                    waiting) or {}
        except Abandoned:
            return websocket.respond(408, "Request Timeout\n")
        except Exception:
            log.exception("$connect failed")
            return websocket.respond(500, "Internal server error\n")
        status = int(reply.get("statusCode", 200))
        if not 200 <= status < 300:
            return websocket.respond(status, str(reply.get("body") or "") + "\n")
        conn.subprotocol = (reply.get("headers") or {}).get("Sec-WebSocket-Protocol")
        conn.websocket = websocket
        self.connections[conn.connection_id] = conn
        websocket.csms_connection = conn  # type: ignore[attr-defined]
        self._watch_handshake(websocket, conn)
        return None

    def _watch_handshake(self, websocket: ServerConnection, conn: Connection) -> None:
        """$connect has run; a client that drops before the handshake completes must still be disconnected."""
        async def reap() -> None:
            await websocket.wait_closed()
            if not conn.opened and self.connections.pop(conn.connection_id, None) is not None:
                await self._disconnect(conn, 1006, "handshake not completed")

        task = asyncio.create_task(reap())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _process_response(self, websocket: ServerConnection, request: Request, response: Response) -> Response | None:
        conn: Connection | None = getattr(websocket, "csms_connection", None)
        if conn is not None and conn.subprotocol and response.status_code == 101:
            response.headers["Sec-WebSocket-Protocol"] = conn.subprotocol
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        conn: Connection = websocket.csms_connection  # type: ignore[attr-defined]
        conn.opened = True
        closed_by_gateway: tuple[int, str] | None = None
        frames: asyncio.Queue[str | bytes | None] = asyncio.Queue(self.frames_queued)
        handling = asyncio.create_task(self._handle_in_order(conn, frames))
        try:
            while True:
                idle_left = self.idle_timeout_s - (time.time() - conn.last_active_at)
                life_left = self.max_connection_s - (time.time() - conn.connected_at)
                if idle_left <= 0 or life_left <= 0:
                    closed_by_gateway = (1001, "Going away")
                    await websocket.close(1001, "Going away")
                    break
                try:
                    message = await asyncio.wait_for(websocket.recv(), timeout=min(idle_left, life_left))
                except asyncio.TimeoutError:
                    continue
                conn.last_active_at = time.time()
                if not frames.full() and self.throttle.take():
                    frames.put_nowait(message)
                else:
                    context = self._request_context(conn, "$default", "MESSAGE")
                    await self._send(conn, error_frame("Too Many Requests", conn, context["requestId"]))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connections.pop(conn.connection_id, None)
            await frames.put(None)
            await handling  # frames received before the close are still handled, as API Gateway's are
            self.turns.forget(conn.connection_id)
            code = websocket.close_code if closed_by_gateway is None else closed_by_gateway[0]
            reason = websocket.close_reason if closed_by_gateway is None else closed_by_gateway[1]
            await self._disconnect(conn, code, reason or "")

    async def _disconnect(self, conn: Connection, code: int | None, reason: str) -> None:
        event = disconnect_event(self._request_context(conn, "$disconnect", "DISCONNECT"), conn.authorizer, code, reason)
        try:
            await self.runtime.invoke_async(self.routes.disconnect, event, pool="background")
        except Exception:
            log.exception("$disconnect failed")

    async def _handle_in_order(self, conn: Connection, frames: asyncio.Queue[str | bytes | None]) -> None:
        """One frame of the connection at a time, each in its turn; its reply is sent after the turn, so a charger
        that does not read its replies holds up only itself."""
        while (message := await frames.get()) is not None:
            async with self.turns.turn(conn.connection_id):
                body = await self._invoke_default(conn, message)
            if body:
                await self._send(conn, body)

    async def _invoke_default(self, conn: Connection, message: str | bytes) -> str | None:
        event = message_event(self._request_context(conn, "$default", "MESSAGE"), conn.authorizer, message)
        try:
            reply = await self.runtime.invoke_async(self.default, event) or {}
            return reply.get("body")
        except Exception:
            log.exception("$default failed")
            return error_frame("Internal server error", conn, event["requestContext"]["requestId"])

    @staticmethod
    async def _send(conn: Connection, body: str) -> None:
        if conn.websocket is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await conn.websocket.send(body)

    # --- the @connections management API -------------------------------------------------

    def _management_app(self, environ: dict, start_response: Any) -> Any:
        request = HttpRequest(environ)
        response = self._manage(request)
        return response(environ, start_response)

    def _manage(self, request: HttpRequest) -> HttpResponse:
        prefix = "/@connections/"
        path = request.path
        if path.startswith(f"/{STAGE}/"):
            path = path[len(STAGE) + 1:]
        if not path.startswith(prefix):
            return HttpResponse(json.dumps({"message": "Not Found"}), 404, content_type="application/json")
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return HttpResponse(json.dumps({"message": "Missing Authentication Token"}), 403,
                                headers={"x-amzn-ErrorType": "ForbiddenException"}, content_type="application/json")
        connection_id = unquote(path[len(prefix):])
        conn = self.connections.get(connection_id)
        if conn is None or conn.websocket is None:
            return HttpResponse(json.dumps({"message": None}), 410, headers={"x-amzn-ErrorType": "GoneException"},
                                content_type="application/json")
        assert self._loop is not None
        if request.method == "POST":
            data = request.get_data()
            try:
                payload: str | bytes = data.decode("utf-8")
            except UnicodeDecodeError:
                payload = data
            if len(data) > 128 * 1024:
                return HttpResponse(json.dumps({"message": "Message too long"}), 413,
                                    headers={"x-amzn-ErrorType": "PayloadTooLargeException"}, content_type="application/json")
            future = asyncio.run_coroutine_threadsafe(conn.websocket.send(payload), self._loop)
            try:
                future.result(timeout=10)
            except websockets.ConnectionClosed:
                return HttpResponse(json.dumps({"message": None}), 410, headers={"x-amzn-ErrorType": "GoneException"},
                                    content_type="application/json")
            return HttpResponse(b"", 200)
        if request.method == "GET":
            iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))  # noqa: E731
            return HttpResponse(json.dumps({
                "connectedAt": iso(conn.connected_at), "lastActiveAt": iso(conn.last_active_at),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.headers.get("User-Agent", "")},
            }), 200, content_type="application/json")
        if request.method == "DELETE":
            asyncio.run_coroutine_threadsafe(conn.websocket.close(1000, "Closed by the CSMS"), self._loop)
            return HttpResponse(b"", 204)
        return HttpResponse(json.dumps({"message": "Method not allowed"}), 405, content_type="application/json")

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        listeners = [(self.port, None)] + ([(self.tls_port, self.tls)] if self.tls is not None else [])
        for port, tls in listeners:
            self._servers.append(await serve(
                self._handle, self.host, port, ssl=tls,
                process_request=self._process_request, process_response=self._process_response,
                max_size=FRAME_LIMIT, ping_interval=None, compression=None, open_timeout=CONNECT_TIMEOUT_S,
            ))
        self._management = make_server(self.host, self.management_port, self._management_app, threaded=True)
        threading.Thread(target=self._management.serve_forever, name="connections-api", daemon=True).start()

    async def stop(self) -> None:
        """Closes every charger connection (each gets its $disconnect) and stops serving."""
        for server in self._servers:
            server.close(close_connections=True)
        for server in self._servers:
            await server.wait_closed()
        if self._management is not None:
            self._management.shutdown()


