"""Demo data files: the procedure catalog and calendar overrides."""
