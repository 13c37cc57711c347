"""A Flask app serving only the result pages blueprint over an export directory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from bot.pages import blueprint


def pages_app(results_dir: Path) -> Flask:
    app = Flask(__name__)
    app.config["RESULTS_DIR"] = str(results_dir)
    app.register_blueprint(blueprint)
    return app
