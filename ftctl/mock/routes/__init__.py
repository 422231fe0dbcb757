"""The mock's routes, one module per resource. Each module's `ROUTES` lists its endpoints; every
handler is registered through `ftctl.mock.http.endpoint`, which reads the clock and the body."""
