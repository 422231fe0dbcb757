"""ftctl's service layer: talks to the API through an injected ``openai.OpenAI`` client and
returns the API's JSON objects as dicts, verbatim. It knows nothing of Typer or Rich, and imports
openai only inside the functions that need its types."""
