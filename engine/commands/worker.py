"""`jetstream worker`: run queued bot jobs (huey consumer over the SQLite job store)."""
from __future__ import annotations

import logging

import click


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
@click.option("--once", is_flag=True, help="Run every pending job, then exit.")
def command(workers: int, once: bool) -> None:
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
