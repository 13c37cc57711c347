"""A local HTTP server speaking the BigQuery REST shapes the client library uses.

Records every request (method, path, JSON body) so tests can assert what was sent.
Queries whose text contains `nope` fail the way BigQuery reports an unknown column.
`CREATE OR REPLACE TABLE` statements create their table; load jobs take the resumable upload
protocol of google-resumable-media (a POST with the job, then the data in PUTs), and `uploads`
keeps each load's bytes by job id.
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
        self.uploads: dict[str, bytes] = {}  # load job id -> the bytes uploaded
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

            def _done(self, project: str, body: dict) -> dict:
                job_ref = body["jobReference"]
                job = {"kind": "bigquery#job", "id": f"{project}:{job_ref['jobId']}",
                       "jobReference": job_ref, "configuration": body["configuration"],
                       "status": {"state": "DONE"},
                       "statistics": {"query": {"totalBytesProcessed": str(BYTES)},
                                      "totalBytesProcessed": str(BYTES)}}
                fake.jobs[job_ref["jobId"]] = job
                return job

            def do_PUT(self):  # the data of a resumable upload, in one or more chunks
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                upload = re.search(r"upload_id=([^&]+)", self.path).group(1)
                fake.requests.append({"method": "PUT", "path": self.path, "body": None})
                fake.uploads[upload] = fake.uploads.get(upload, b"") + data
                total = (self.headers.get("Content-Range") or "").rsplit("/", 1)[-1]
                if total == "*":  # more chunks follow
                    self.send_response(308)
                    self.send_header("Range", f"bytes=0-{len(fake.uploads[upload]) - 1}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                job = fake.jobs[upload]
                load = job["configuration"]["load"]["destinationTable"]
                fake.tables[".".join(load[k] for k in ("projectId", "datasetId", "tableId"))] = []
                self._reply(200, job)

            def do_POST(self):
                body = self._record()
                if m := re.match(r"^/upload/bigquery/v2/projects/([^/]+)/jobs", self.path):
                    job = self._done(m.group(1), body)  # the upload id is the job id
                    location = f"{fake.url}{self.path.split('?')[0]}?uploadType=resumable&upload_id={job['jobReference']['jobId']}"
                    self.send_response(200)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
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
                created = re.match(r"^CREATE OR REPLACE TABLE `([^`]+)`\.`([^`]+)`\.`([^`]+)`", query)
                if created and not config.get("dryRun"):
                    fake.tables[".".join(created.groups())] = [{"x": 1}]
                self._reply(200, self._done(project, body))

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


def backend_for(fake: FakeBigQuery, project: str = "proj", dataset: str = "results"):
    """Our BigQuery backend talking to `fake` over HTTP (the real client library, no auth)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from engine.backends.bigquery import BigQueryBackend
    client = bigquery.Client(project=project, credentials=AnonymousCredentials(),
                             client_options=ClientOptions(api_endpoint=fake.url))
    return BigQueryBackend(project, dataset, client=client, timeout=30)
