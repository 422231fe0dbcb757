"""ftctl's command-line layer: parse, call the service, render. Nothing else lives here."""
