"""Resolution: one experiment config and the library under it into a frozen AnalysisSpec."""
