"""A long-lived process that runs hostile inputs one by one through either door, so that the
catalogue pays for one interpreter start, not one per input. The parent bounds every input's time
from outside (and restarts the worker when one overruns); memory is bounded here by RLIMIT_AS, so
a bomb shows up as an error, never as a swapping machine.

Requests and answers are JSON lines: {"door": "cli"|"bot", "args": [...]} ->
{"exit": int, "out": str, "err": str}.
"""
from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import traceback

MEMORY_LIMIT = 3 * 1024 ** 3  # bytes of address space


def _cli(args: list[str]) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from engine.cli import main
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    err = "".join(traceback.format_exception(*result.exc_info)) if crashed else ""
    return result.exit_code, result.stdout, err + result.stderr


def _bot(args: list[str]) -> tuple[int, str, str]:
    from tests.hostile.bot_path import main
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main(args[0], args[1], [bytes.fromhex(a).decode("utf-8", "surrogateescape") for a in args[2:]])
    except Exception:  # noqa: BLE001 - reported to the parent, which fails the input
        return 1, out.getvalue(), traceback.format_exc()
    return 0, out.getvalue(), ""


def serve() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    for line in sys.stdin:
        request = json.loads(line)
        code, out, err = (_cli if request["door"] == "cli" else _bot)(request["args"])
        sys.stdout.write(json.dumps({"exit": code, "out": out, "err": err}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
