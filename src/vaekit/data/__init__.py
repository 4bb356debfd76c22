"""Datasets, registered by name in ``vaekit.registry.DATASETS``."""
