"""The Flask app: `POST /webhook`, `GET /healthz`, the cron endpoint and the result pages."""
from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path

from flask import Flask, abort, jsonify, request

from bot import webhooks
from bot.config import ConfigurationError, Settings
from bot.handlers import daily_job
from bot.jobs.queue import JobQueue
from bot.jobs.store import StoreError
from bot.pages.blueprint import blueprint as result_pages


def create_app(settings: Settings | None = None, queue: JobQueue | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if queue is None:
        try:
            queue = JobQueue(settings.job_store)
        except StoreError as error:
            raise ConfigurationError(str(error)) from None
    background = getattr(queue.store.db, "checkpoint_in_background", None)
    if background is not None:
        background()  # SQLite: no WAL checkpoint (and its fsync) inside a webhook answer
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["RESULTS_DIR"] = str(settings.results_dir)
    app.extensions["jetstream.queue"] = queue
    app.register_blueprint(webhooks.blueprint(settings, queue))

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    @app.route("/cron/daily", methods=["GET", "POST"])
    def cron_daily():
        """The scheduler's trigger (Cloud Scheduler, cron): `Authorization: Bearer $JETSTREAM_CRON_TOKEN`
        or `X-Jetstream-Cron-Token`. The day's job is keyed by date: repeated triggers collapse."""
        token = request.headers.get("X-Jetstream-Cron-Token") or \
            request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not settings.cron_token or not hmac.compare_digest(token.encode(), settings.cron_token.encode()):
            abort(403)
        queued = queue.enqueue(daily_job(dt.date.today()))
        return jsonify(queued=queued), 202

    app.register_blueprint(result_pages)  # /experiments/..., the pages the bot's result links point at
    return app


def create_pages_app(results_dir: Path) -> Flask:
    """Result pages and /healthz only: for browsing exported results, no webhook, no secrets."""
    app = Flask(__name__)
    app.config["RESULTS_DIR"] = str(results_dir)

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    app.register_blueprint(result_pages)
    return app
