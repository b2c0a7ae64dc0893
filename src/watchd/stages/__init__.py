"""Pipeline stages, one per module. See watchd.pipeline."""
