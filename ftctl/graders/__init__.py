"""Graders: the template language, validation and a local engine that runs them.

Pure code (no Typer, Rich or openai): the mock server, prepare and the CLI all use it.
"""
