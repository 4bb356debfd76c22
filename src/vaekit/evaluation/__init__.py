"""Evaluation: likelihood bounds, latent statistics."""
