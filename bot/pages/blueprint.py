"""Result pages: a Flask blueprint over an export directory (the files `engine.results.export` wrote).

URLs are stable, so the bot can link them: `/experiments/` and
`/experiments/<slug>?segment=..&basis=..&period=..&window=..`. The directory comes from the
app config key `RESULTS_DIR`.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, url_for

from bot.pages.views import panels, select
from engine.results.store import ExportDirectory

blueprint = Blueprint("results", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/results-static")


def _store() -> ExportDirectory:
    return ExportDirectory(Path(current_app.config.get("RESULTS_DIR", "results")))


@blueprint.route("/experiments/")
def index() -> str:
    store = _store()
    experiments = [(slug, store.metadata(slug), len(store.errors(slug))) for slug in store.slugs()]
    return render_template("results/index.html", experiments=experiments)


@blueprint.route("/experiments/<slug>")
def experiment(slug: str) -> str:
    store = _store()
    if not store.has(slug):
        abort(404)
    selection, records = select(store, slug, request.args)
    metadata = store.metadata(slug)
    return render_template(
        "results/experiment.html", slug=slug, metadata=metadata, selection=selection,
        panels=panels(store, slug, selection, records), errors=store.errors(slug),
        enrollment=metadata.get("enrollment", {}).get(selection.basis, {}),
        srm=metadata.get("sample_ratio", {}).get(selection.basis),
        link=lambda **change: url_for("results.experiment", slug=slug, **selection.query(**change)))
