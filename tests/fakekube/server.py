"""HTTP plumbing: a threaded loopback server and the per-request pipeline
(record -> authenticate -> delay -> route -> authorize -> hooks -> verb)."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import discovery, errors, routing
from .api import Api, Request, Response, verb_of
from .hooks import MUTATING, Hooks, RecordedRequest
from .resources import Registry


class Dispatcher:
    def __init__(self, registry: Registry, api: Api, hooks: Hooks, stopping: threading.Event):
        self.registry = registry
        self.api = api
        self.hooks = hooks
        self.stopping = stopping
        self.tokens: dict[str, str] = {}  # bearer token -> user name
        self.tokens_lock = threading.Lock()

    def dispatch(self, method: str, raw_path: str, headers, body: bytes) -> Response | None:
        """The response, or None to drop the connection (server stopping)."""
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        record = RecordedRequest(
            method=method, path=split.path, query=query,
            content_type=headers.get("Content-Type"), body=_parse_for_log(body),
            time=time.monotonic(),
            headers={k.lower(): ("<redacted>" if k.lower() == "authorization" else v)
                     for k, v in headers.items()})
        self.hooks.record(record)
        try:
            response = self._respond(method, split.path, query, headers, body, record)
        except errors.ApiError as exc:
            response = Response(exc.code, exc.status())
        except Exception:  # a bug in the fake: make it loud, not a hang
            response = Response(500, errors.ApiError(
                500, "InternalError", "fakekube crashed:\n" + traceback.format_exc(), {}).status())
        if response is not None:
            self.hooks.update(record, status=response.code)
        return response

    def _respond(self, method, path, query, headers, body, record) -> Response | None:
        self.hooks.update(record, user=self._authenticate(headers))
        delay = self.hooks.take_delay(method, path)
        if delay and not delay.after and self.stopping.wait(delay.seconds):
            return None
        response = self._route(method, path, query, headers, body, record)
        if delay and delay.after and self.stopping.wait(delay.seconds):
            return None
        return response

    def _authenticate(self, headers) -> str:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        with self.tokens_lock:
            user = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise errors.unauthorized()
        return user

    def _route(self, method, path, query, headers, body, record) -> Response:
        if path == "/version":
            if method != "GET":
                raise errors.method_not_allowed()
            return Response(200, dict(discovery.VERSION_INFO))
        target = routing.parse(path, self.registry)
        if isinstance(target, routing.Discovery):
            if method != "GET":
                raise errors.method_not_allowed()
            return Response(200, discovery.document(target, self.registry))
        verb = verb_of(method, target, query)
        if self.hooks.denied(verb, target.group, target.authz_resource, target.namespace, record.user):
            raise errors.forbidden(target.group, target.authz_resource, target.name, record.user,
                                   verb, target.namespace)
        if method in MUTATING:
            self.hooks.run_write_hooks(record)
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return self.api.handle(Request(method, target, query, media_type, body))


def _parse_for_log(body: bytes):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the client expects
    server_version = "fakekube"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls

    def setup(self):
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def _serve(self):
        try:
            body = self._read_body()
        except ValueError as exc:
            self._send_json(400, errors.bad_request(str(exc)).status())
            return
        response = self.server.dispatcher.dispatch(self.command, self.path, self.headers, body)
        if response is None:
            self.close_connection = True
        elif response.stream is not None:
            self._send_stream(response)
        else:
            self._send_json(response.code, response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            raise ValueError(f"invalid Content-Length {length!r}")
        return self.rfile.read(int(length))

    def _send_json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (e.g. its timeout fired)
            self.close_connection = True

    def _send_stream(self, response: Response) -> None:
        try:
            self.send_response(response.code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in response.stream:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            response.stream.close()


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, dispatcher: Dispatcher):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dispatcher = dispatcher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Hang up on keep-alive clients so their handler threads exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # Client disconnects are routine in timeout tests; anything else is a bug.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)
