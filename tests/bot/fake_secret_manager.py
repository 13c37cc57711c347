"""Secret Manager's REST `versions:access` on loopback (the client's REST transport talks to it)."""
from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_ACCESS = re.compile(r"^/v1/(projects/[^/]+/secrets/[^/]+)/versions/([^/:]+):access$")


class FakeSecretManager:
    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets  # "projects/P/secrets/NAME" -> value (every version)
        self.requests: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request.path)
        match = _ACCESS.match(request.path)
        if request.method != "GET" or match is None or match.group(1) not in self.secrets:
            response = Response(json.dumps({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}),
                                status=404, mimetype="application/json")
        else:
            data = base64.b64encode(self.secrets[match.group(1)].encode()).decode()
            response = Response(json.dumps({"name": f"{match.group(1)}/versions/1", "payload": {"data": data}}),
                                mimetype="application/json")
        return response(environ, start_response)
