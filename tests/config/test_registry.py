import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from engine.experimenter import RegistryError, load_registry, parse_registry

V6 = {"slug": "exp-a", "appName": "firefox_desktop", "appId": "firefox-desktop",
      "branches": [{"slug": "control", "ratio": 1}, {"slug": "treatment", "ratio": 2}],
      "referenceBranch": "control", "startDate": "2024-01-01", "endDate": "2024-02-01",
      "proposedEnrollment": 7, "enrollmentEndDate": "2024-01-10", "isRollout": False,
      "channel": "release", "outcomes": [{"slug": "search"}], "segments": [{"slug": "heavy"}]}
V8 = {"slug": "exp-b", "app_name": "ios", "app_id": "org.mozilla.ios.Firefox",
      "branches": [{"slug": "a"}], "reference_branch": "a", "start_date": "2024-03-01T00:00:00Z",
      "proposed_enrollment": 5, "is_rollout": True, "status": "Live", "outcomes": ["x"]}


def test_v6_and_v8_field_names_parse_to_the_same_records():
    registry = parse_registry([V6, V8])
    a, b = registry.get("exp-a"), registry.get("exp-b")
    assert a.branch_slugs == ("control", "treatment") and a.branches[1].ratio == 2.0
    assert a.enrollment_period == 10  # enrollment end date wins over the proposed period
    assert (a.outcomes, a.segments) == (("search",), ("heavy",))
    assert b.app_name == "firefox_ios" and b.start_date == dt.date(2024, 3, 1)
    assert b.enrollment_period == 5 and b.is_rollout and b.outcomes == ("x",)


def test_bad_payloads_raise_registry_errors(tmp_path):
    with pytest.raises(RegistryError):
        parse_registry([{"no": "slug"}])
    with pytest.raises(RegistryError):
        parse_registry([{**V6, "startDate": "soon"}])
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(RegistryError):
        load_registry(tmp_path / "r.json")


def test_registry_from_file_and_from_a_local_http_server(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"experiments": [V6]}))
    assert list(load_registry(tmp_path / "r.json").entries) == ["exp-a"]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps([V6, V8]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        registry = load_registry(f"http://127.0.0.1:{server.server_port}/api/v6/experiments/")
    finally:
        server.shutdown()
    assert len(registry) == 2
