"""bqemulator (BigQuery's REST API, executing BigQuery SQL on DuckDB) on loopback, behind a
recording proxy that shims the emulator's gaps, and synthetic telemetry loaded into it.

The emulator runs from its own virtualenv (`.venv-bqemulator`, built by `make venv` from
`bqemulator-requirements.txt`: it cannot share ours). The client library reaches it through
`BIGQUERY_EMULATOR_HOST` (with its `http://` prefix) pointed at the proxy, which records every
request (the job options tests assert on) and forwards it. The shims, each for a gap of
bqemulator 1.4.0 that the real service does not have (the product sends real BigQuery):

- `mozfun.<ns>.<fn>(...)`: bqemulator binds three-part function names as a DuckDB catalog
  ("Catalog mozfun does not exist") and has no `mozfun` routines; calls are rewritten to inline
  SQL with the public UDFs' semantics.
- a load job into a table that does not exist fails (the emulator DELETEs from it first): the
  proxy creates the destination from the job's own schema first (and drops it for WRITE_TRUNCATE,
  whose schema replaces the old one on BigQuery).

Gaps not shimmed, so not covered here: dry runs report 0 bytes (no cost estimates); the Storage
Read API (gRPC) cannot read query results (their anonymous dataset is missing), so reads are
REST; Glean data sources' per-client queries fail to bind STRUCT/ARRAY columns of the derived
data-source table from the join's ON (`Values list "ds" does not have a column named
"ping_info"`, then `client_info` for the join key), so the fenix and iOS experiments do not run.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_VENV = Path(os.environ.get("BQEMULATOR_VENV", ROOT / ".venv-bqemulator"))
TELEMETRY_PROJECT = "moz-fx-data-shared-prod"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- shims ----------------------------------------------------------------------------------
_MOZFUN = {  # mozfun UDF -> the same function as inline BigQuery SQL
    "map.get_key": "(SELECT _kv.value FROM UNNEST(:map) AS _kv WHERE _kv.key = :key LIMIT 1)",
}


def _mozfun_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        left = node.this.sql(dialect="bigquery").replace("`", "")
        if left.lower().startswith("mozfun."):
            return f"{left[len('mozfun.'):]}.{node.expression.name}".lower()
    return None


def _inline_mozfun(node: exp.Expression) -> exp.Expression:
    name = _mozfun_name(node)
    if name is None:
        return node
    if name not in _MOZFUN:
        raise ValueError(f"the emulator harness has no stand-in for mozfun.{name}")
    args = node.expression.expressions
    template = sqlglot.parse_one(_MOZFUN[name], read="bigquery")
    return exp.replace_placeholders(template, map=args[0], key=args[1])


def shim_query(text: str) -> str:
    """A query as bqemulator can run it: mozfun calls inlined (unchanged when it has none)."""
    if "mozfun" not in text.lower():
        return text
    (tree,) = sqlglot.parse(text, read="bigquery")
    return tree.transform(_inline_mozfun).sql(dialect="bigquery")


# -- the proxy ------------------------------------------------------------------------------
class RecordingProxy:
    """Forwards the client's requests to the emulator, shimmed; `jobs` keeps each job sent."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.jobs: list[dict] = []  # the job resources the client posted (before any shim)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def upstream(self, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=600)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _prepare_load(self, job: dict) -> None:
        load = job["configuration"]["load"]
        table = load["destinationTable"]
        path = (f"/bigquery/v2/projects/{table['projectId']}/datasets/{table['datasetId']}/tables")
        if load.get("writeDisposition") == "WRITE_TRUNCATE":
            self.upstream("DELETE", f"{path}/{table['tableId']}")
        status, _, _ = self.upstream("GET", f"{path}/{table['tableId']}")
        if status == 404:
            body = json.dumps({"tableReference": table, "schema": load["schema"]}).encode()
            self.upstream("POST", path, body, {"Content-Type": "application/json"})

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = self.path.split("?")[0]
                if self.command == "POST" and path.endswith("/jobs") and body:
                    job = json.loads(body)
                    proxy.jobs.append(job)
                    config = job.get("configuration", {})
                    if "query" in config:
                        config["query"]["query"] = shim_query(config["query"]["query"])
                        body = json.dumps(job).encode()
                    if "load" in config:
                        proxy._prepare_load(job)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                status, reply_headers, reply = proxy.upstream(self.command, self.path, body, headers)
                self.send_response(status)
                for key, value in reply_headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                           "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        return Handler


# -- the emulator ---------------------------------------------------------------------------
class Emulator:
    """bqemulator in a subprocess on free loopback ports, ephemeral, with its DuckDB spatial
    extension installed from the PyPI package into a private HOME (it cannot download one)."""

    def __init__(self, home: Path, project: str = "test"):
        python = EMULATOR_VENV / "bin" / "python"
        if not python.is_file():
            raise RuntimeError(f"no bqemulator virtualenv at {EMULATOR_VENV}: run `make venv`")
        self.project = project
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "TMPDIR": str(home)}
        subprocess.run([str(python), "-c", _INSTALL_SPATIAL], env=env, check=True)
        self.port, self.grpc_port = _free_port(), _free_port()
        self.log = open(home / "emulator.log", "wb")
        self.process = subprocess.Popen(
            [str(EMULATOR_VENV / "bin" / "bqemulator"), "start", "--rest-port", str(self.port),
             "--grpc-port", str(self.grpc_port), "--project", project, "--ephemeral",
             "--log-level", "warning"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()
        self.proxy = RecordingProxy(self.port)

    def _wait(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bqemulator exited: see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", f"/bigquery/v2/projects/{self.project}/datasets")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("bqemulator did not answer in time")

    @property
    def host(self) -> str:
        """`BIGQUERY_EMULATOR_HOST` for clients: the shimming proxy."""
        return self.proxy.url

    def close(self) -> None:
        self.proxy.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


_INSTALL_SPATIAL = """
import pathlib, duckdb, duckdb_extension_spatial
root = pathlib.Path(duckdb_extension_spatial.__file__).parent / "extensions"
(extension,) = root.glob("v*/spatial.duckdb_extension")
duckdb.execute(f"INSTALL '{extension}'")
"""


# -- telemetry ------------------------------------------------------------------------------
def _field(name: str, kind: pa.DataType):
    from google.cloud import bigquery
    if pa.types.is_list(kind):
        inner = _field(name, kind.value_type)
        return bigquery.SchemaField(name, inner.field_type, mode="REPEATED", fields=inner.fields)
    if pa.types.is_struct(kind):
        return bigquery.SchemaField(name, "RECORD", fields=[_field(f.name, f.type) for f in kind])
    for test, bigquery_type in ((pa.types.is_integer, "INT64"), (pa.types.is_floating, "FLOAT64"),
                                (pa.types.is_boolean, "BOOL"), (pa.types.is_string, "STRING"),
                                (pa.types.is_large_string, "STRING"), (pa.types.is_date, "DATE"),
                                (pa.types.is_timestamp, "TIMESTAMP")):
        if test(kind):
            return bigquery.SchemaField(name, bigquery_type)
    raise ValueError(f"no BigQuery type for {name}: {kind}")


def load_telemetry(client, tables: dict[str, pa.Table], project: str = TELEMETRY_PROJECT) -> None:
    """Each "dataset.table" of the synthetic world as `project.dataset.table`, by parquet loads."""
    import io

    import pyarrow.parquet as pq
    from google.cloud import bigquery
    for name, table in sorted(tables.items()):
        dataset, table_name = name.split(".")
        client.create_dataset(f"{project}.{dataset}", exists_ok=True)
        table_id = f"{project}.{dataset}.{table_name}"
        schema = [_field(f.name, f.type) for f in table.schema]
        data = io.BytesIO()
        pq.write_table(table, data)
        data.seek(0)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, schema=schema,
                                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        client.load_table_from_file(data, table_id, job_config=config).result(timeout=600)


def client_for(emulator: Emulator, project: str):
    """A google-cloud-bigquery client of `project` talking to the emulator (through the proxy)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=emulator.host))

