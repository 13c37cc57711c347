"""A loopback HTTP server speaking the GCS JSON API's multipart upload, storing objects in memory."""
from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

_UPLOAD = re.compile(r"^/upload/storage/v1/b/([^/]+)/o$")


class FakeGcs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.content_types: dict[tuple[str, str], str] = {}
        self.requests: list[str] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                url = urlparse(self.path)
                store.requests.append(f"POST {url.path}?{url.query}")
                match = _UPLOAD.match(url.path)
                query = parse_qs(url.query)
                if not match or query.get("uploadType") != ["multipart"]:
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
                meta_part, data_part = list(message.iter_parts())
                meta = json.loads(meta_part.get_payload(decode=True))
                key = (match.group(1), meta.get("name") or query["name"][0])
                store.objects[key] = data_part.get_payload(decode=True)
                store.content_types[key] = data_part.get_content_type()
                reply = json.dumps({"kind": "storage#object", "bucket": key[0], "name": key[1],
                                    "size": str(len(store.objects[key])), "generation": "1"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeGcs":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
