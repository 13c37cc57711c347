"""The scale bench's config root, RSS projection and table (the measurements are in the bench)."""
from __future__ import annotations

from bench.engine_scale import DAYS28, SLUG, config_root, markdown, missed, projected_peak_mb
from engine.config.resolve.platforms import resolve_experiment


def test_config_root_adds_days28_and_keeps_two_segments(tmp_path):
    spec, findings = resolve_experiment(config_root(tmp_path / "config"), SLUG)
    assert spec is not None, [f.message for f in findings if f.is_error]
    assert [m.name for m in spec.metrics["days28"]] == list(DAYS28)
    assert len(spec.segments) == 2
    assert len(spec.metric_names()) >= 10


def _row(clients, peak_mb, label="before"):
    return {"label": label, "clients": clients, "commit": "c", "returncode": 0, "wall_s": 10.0,
            "cpu_s": 20.0, "peak_rss_mb": peak_mb, "generation": {"wall_s": 1.0}}


def test_projection_extrapolates_the_two_largest_smaller_sizes():
    rows = [_row(100, 1000), _row(200_000, 1700), _row(1_000_000, 4500)]
    assert projected_peak_mb(rows, 5_000_000) == 4500 + 3.5e-3 * 4_000_000
    assert projected_peak_mb(rows[:1], 5_000_000) is None


def test_table_shows_a_skipped_size_and_counts_it_as_missed():
    rows = [_row(200_000, 1000), _row(1_000_000, 1100),
            {"label": "before", "clients": 5_000_000, "commit": "c", "skipped": "too big"}]
    text = markdown(rows)
    assert "| 5,000,000 | not run: too big |" in text
    assert "peak RSS at 1,000,000 = 1.10 x at 200,000 (goal <= 1.3 x): met" in text
    assert missed(rows) and not missed(rows[:2])
