"""distillguard: detect and stop distillation attacks against a model API."""

__version__ = "0.1.0"
