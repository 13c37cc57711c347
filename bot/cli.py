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
@click.option("--port", default=8080, show_default=True, type=int, envvar="PORT",
              help="Also from $PORT (Cloud Run sets it).")
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
    from bot.jobs.store import StoreError
    from bot.runtime import build_worker

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
        worker = build_worker(settings, workers) if with_worker else None
        app = create_app(settings, worker.queue if worker else None)
    except (ConfigurationError, StoreError) as error:
        raise click.ClickException(str(error)) from error
    server = make_server(host, port, app, threaded=True)
    click.echo(f"jetstream serving on http://{host}:{server.server_port}")
    if worker is None:
        server.serve_forever()
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker.run()  # main thread: it installs the SIGTERM / SIGINT handlers


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Job slots (each runs its jobs in a child process).")
@click.option("--once", is_flag=True, help="Run every pending job in this process, then exit.")
def worker(workers: int, once: bool) -> None:
    """Run queued jobs; jobs of a worker that died are recovered when their lease expires."""
    from bot.config import ConfigurationError, Settings
    from bot.jobs.store import StoreError
    from bot.runtime import build_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        runner = build_worker(Settings.from_env(), workers)
    except (ConfigurationError, StoreError) as error:
        raise click.ClickException(str(error)) from error
    if once:
        runner.queue.store.recover()
        click.echo(f"ran {runner.queue.run_until_idle()} job(s)")
        return
    runner.run()
