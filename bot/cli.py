"""The bot's commands, registered into `jetstream` through the `jetstream.commands` entry point
group (pyproject.toml), so the engine never imports the bot: `serve` (webhook receiver and result
pages, optionally with a worker) and `worker` (runs queued jobs)."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--with-worker", is_flag=True, help="Also run queued jobs in this process.")
@click.option("--workers", default=2, show_default=True, help="Worker threads with --with-worker.")
@click.option("--pages-only", is_flag=True,
              help="Serve only the result pages (no webhook, no GitHub settings needed).")
@click.option("--results-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Exported results to show (overrides JETSTREAM_RESULTS_DIR).")
def serve(host: str, port: int, with_worker: bool, workers: int, pages_only: bool,
            results_dir: Path | None) -> None:
    """Serve POST /webhook, GET /healthz and the result pages."""
    from werkzeug.serving import make_server

    from bot.app import create_app, create_pages_app
    from bot.config import ConfigurationError, Settings
    from bot.runtime import build_queue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if pages_only:
        server = make_server(host, port, create_pages_app(results_dir or Path("results")), threaded=True)
        click.echo(f"jetstream result pages on http://{host}:{server.server_port}/experiments/")
        server.serve_forever()
        return
    if results_dir is not None:
        os.environ["JETSTREAM_RESULTS_DIR"] = str(results_dir)
    try:
        settings = Settings.from_env()
        queue = build_queue(settings) if with_worker else None
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error
    server = make_server(host, port, create_app(settings, queue), threaded=True)
    click.echo(f"jetstream serving on http://{host}:{server.server_port}")
    if queue is None:
        server.serve_forever()
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()
    queue.consumer(workers=workers).run()  # main thread: huey installs its signal handlers here


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
@click.option("--once", is_flag=True, help="Run every pending job, then exit.")
def worker(workers: int, once: bool) -> None:
    """Run queued jobs; interrupted jobs from a killed worker run again first."""
    from bot.config import ConfigurationError, Settings
    from bot.runtime import build_queue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        queue = build_queue(Settings.from_env())
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error
    if once:
        queue.recover()
        click.echo(f"ran {queue.run_until_idle()} job(s)")
        return
    queue.consumer(workers=workers).run()
