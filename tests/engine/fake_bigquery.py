"""A local HTTP server speaking the BigQuery REST shapes the client library uses.

Records every request (method, path, JSON body) so tests can assert what was sent.
Queries whose text contains `nope` fail the way BigQuery reports an unknown column.
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BYTES = 123456789


class FakeBigQuery:
    def __init__(self):
        self.requests: list[dict] = []
        self.tables: dict[str, list[dict]] = {}  # table id -> rows
        self.jobs: dict[str, dict] = {}
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, payload: dict | None = None):
                body = json.dumps(payload or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append({"method": self.command, "path": self.path, "body": body})
                return body

            def do_POST(self):
                body = self._record()
                match = re.match(r"^/bigquery/v2/projects/([^/]+)/jobs", self.path)
                if not match:
                    return self._reply(404, {"error": {"code": 404, "message": "no route"}})
                project = match.group(1)
                config = body["configuration"]
                query = config["query"]["query"]
                if "nope" in query:
                    message = "Unrecognized name: nope at [1:8]"
                    return self._reply(400, {"error": {"code": 400, "message": message, "errors": [
                        {"reason": "invalidQuery", "message": message, "location": "q"}]}})
                job_ref = body["jobReference"]
                job = {"kind": "bigquery#job", "id": f"{project}:{job_ref['jobId']}",
                       "jobReference": job_ref, "configuration": config,
                       "status": {"state": "DONE"},
                       "statistics": {"query": {"totalBytesProcessed": str(BYTES)},
                                      "totalBytesProcessed": str(BYTES)}}
                destination = config["query"].get("destinationTable")
                if destination and not config.get("dryRun"):
                    table_id = f"{destination['projectId']}.{destination['datasetId']}.{destination['tableId']}"
                    fake.tables[table_id] = [{"x": 1}]
                fake.jobs[job_ref["jobId"]] = job
                self._reply(200, job)

            def do_GET(self):
                self._record()
                path = self.path.split("?")[0]
                if m := re.match(r"^/bigquery/v2/projects/([^/]+)/queries/([^/]+)$", path):
                    job = fake.jobs[m.group(2)]
                    return self._reply(200, {
                        "kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                        "jobReference": job["jobReference"], "totalRows": "2",
                        "schema": {"fields": [{"name": "x", "type": "INTEGER", "mode": "NULLABLE"},
                                              {"name": "branch", "type": "STRING", "mode": "NULLABLE"}]},
                        "rows": [{"f": [{"v": "1"}, {"v": "control"}]},
                                 {"f": [{"v": "2"}, {"v": "treatment"}]}]})
                if m := re.match(r"^/bigquery/v2/projects/([^/]+)/jobs/([^/]+)$", path):
                    return self._reply(200, fake.jobs[m.group(2)])
                if m := re.match(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables$", path):
                    prefix = f"{m.group(1)}.{m.group(2)}."
                    tables = [{"tableReference": {"projectId": m.group(1), "datasetId": m.group(2),
                                                  "tableId": t[len(prefix):]}, "kind": "bigquery#table",
                               "id": t} for t in fake.tables if t.startswith(prefix)]
                    return self._reply(200, {"tables": tables, "totalItems": len(tables)})
                if m := re.match(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$", path):
                    table_id = ".".join(m.groups())
                    if table_id not in fake.tables:
                        return self._reply(404, {"error": {"code": 404, "message": f"Not found: Table {table_id}"}})
                    return self._reply(200, {"tableReference": dict(zip(
                        ("projectId", "datasetId", "tableId"), m.groups())), "kind": "bigquery#table"})
                self._reply(404, {"error": {"code": 404, "message": "no route"}})

            def do_DELETE(self):
                self._record()
                m = re.match(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/?]+)", self.path)
                table_id = ".".join(m.groups()) if m else ""
                if fake.tables.pop(table_id, None) is None:
                    return self._reply(404, {"error": {"code": 404, "message": "Not found"}})
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
