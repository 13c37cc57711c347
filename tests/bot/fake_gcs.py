"""A small Cloud Storage JSON API on loopback (what `STORAGE_EMULATOR_HOST` points
google-cloud-storage at): multipart uploads, object metadata, media downloads, prefix listings."""
from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class FakeGcs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, int]] = {}  # (bucket, name) -> (data, generation)
        self.errors: list[str] = []
        self._generations = itertools.count(1)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.host = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()

    def _resource(self, bucket: str, name: str) -> dict[str, Any]:
        data, generation = self.objects[(bucket, name)]
        return {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(data)),
                "generation": str(generation), "id": f"{bucket}/{name}/{generation}"}

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        parts = request.path.split("/")
        if request.method == "POST" and request.path.startswith("/upload/storage/v1/b/"):
            return self._upload(request, parts[5])
        if request.method == "GET" and request.path.startswith("/download/storage/v1/b/") and len(parts) > 7:
            return self._media(parts[5], unquote("/".join(parts[7:])))
        if request.method == "GET" and request.path.startswith("/storage/v1/b/") and len(parts) > 6:
            bucket, name = parts[4], unquote("/".join(parts[6:]))
            if request.args.get("alt") == "media":
                return self._media(bucket, name)
            if (bucket, name) not in self.objects:
                return _json({"error": {"code": 404, "message": "No such object"}}, 404)
            return _json(self._resource(bucket, name))
        if request.method == "GET" and request.path.startswith("/storage/v1/b/") and len(parts) == 5:
            return _json({"kind": "storage#bucket", "name": parts[4], "id": parts[4]})
        if request.method == "GET" and request.path.startswith("/storage/v1/b/") and len(parts) == 6:
            bucket, prefix = parts[4], request.args.get("prefix", "")
            names = sorted(n for b, n in self.objects if b == bucket and n.startswith(prefix))
            return _json({"kind": "storage#objects", "items": [self._resource(bucket, n) for n in names]})
        self.errors.append(f"unknown route {request.method} {request.full_path}")
        return _json({"error": {"code": 404, "message": "unknown route"}}, 404)

    def _media(self, bucket: str, name: str) -> Response:
        if (bucket, name) not in self.objects:
            return _json({"error": {"code": 404, "message": "No such object"}}, 404)
        data, generation = self.objects[(bucket, name)]
        return Response(data, headers={"x-goog-generation": str(generation)}, mimetype="application/octet-stream")

    def _upload(self, request: Request, bucket: str) -> Response:
        if request.args.get("uploadType") != "multipart":
            self.errors.append(f"unsupported upload {request.full_path}")
            return _json({"error": {"code": 400, "message": "multipart only"}}, 400)
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.get_data())
        metadata, media = [part.get_payload(decode=True) for part in message.iter_parts()]
        name = json.loads(metadata)["name"]
        self.objects[(bucket, name)] = (media, next(self._generations))
        return _json(self._resource(bucket, name))


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
