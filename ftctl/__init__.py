"""ftctl: the OpenAI fine-tuning lifecycle from a shell, with an offline mock server."""

__version__ = "0.1.0"
