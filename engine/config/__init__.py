"""Configuration: loading, structure, resolution into AnalysisSpec, validation."""


def __getattr__(name: str):
    # lazy, so `import engine.config.load` stays cheap
    if name == "resolve_experiment":
        from engine.config.validate import resolve_experiment
        return resolve_experiment
    raise AttributeError(name)
