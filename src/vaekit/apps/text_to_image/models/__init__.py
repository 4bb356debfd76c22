"""Text-conditioned models (registered in ``vaekit.registry.MODELS``)."""

from vaekit.apps.text_to_image.models import text_cvae, text_vq_vae  # noqa: F401  (registration)
from vaekit.apps.text_to_image.models.text_cvae import TextCVAE, TextCVAEConfig
from vaekit.apps.text_to_image.models.text_vq_vae import TextVQVAE, TextVQVAEConfig

__all__ = ["TextCVAE", "TextCVAEConfig", "TextVQVAE", "TextVQVAEConfig"]
