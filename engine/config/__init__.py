"""Configuration: loading, layouts, the repository, schemas and resolution into AnalysisSpec."""
