"""Text-to-image synthesis with conditional VAEs (dSprites-style captions).

Kept import-light: the CLI imports :mod:`vaekit.apps.text_to_image.cli` when it builds its
parser. The pieces:

- :mod:`.captions`: captions generated from ground-truth factors (templates and synonyms), the
  held-out attribute combinations, and the captioned datasets;
- :mod:`.tokenizer`: a word vocabulary built from the training captions (``<pad>``, ``<unk>``);
- :mod:`.text_encoder`: a bidirectional GRU trained with the model (and an optional pretrained
  sentence-embedding path, imported lazily);
- :mod:`.models`: ``text_cvae`` (Sohn et al. 2015 with p(z | text)) and ``text_vq_vae``
  (VQ-VAE codes + a text-conditioned transformer prior, DALL-E style);
- :mod:`.evaluation`: attribute classifiers trained on rendered images, per-attribute accuracy
  of generated images on seen and held-out combinations, sample diversity;
- :mod:`.register`: imported by :mod:`vaekit.registry` to register the models and datasets.
"""
