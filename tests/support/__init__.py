"""Test helpers shared by the suite: the respx API double, the loopback mock server, the OpenAPI
checker and the CLI runner. Imported as `tests.support.*`; nothing here is a test."""
