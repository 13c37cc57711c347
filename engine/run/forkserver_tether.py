"""Imported by the statistics pool's forkserver only (a preload module of `engine.run.pool`):
importing it ties the forkserver's lifetime to the analysis process that started it."""
from engine.run.tether import die_with_parent

die_with_parent()
