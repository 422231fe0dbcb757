"""Settings from the environment and global flags, resolved once per invocation.

Which platform ftctl talks to, and why, is decided here and nowhere else:

- `--provider azure`, or AZURE_OPENAI_ENDPOINT set (and no `--provider openai`): Azure OpenAI,
  through the SDK's `AzureOpenAI` client and its own variables (AZURE_OPENAI_ENDPOINT,
  AZURE_OPENAI_API_KEY, OPENAI_API_VERSION). `--base-url` then names the Azure endpoint.
- otherwise OpenAI, or any OpenAI-compatible service at `--base-url` / OPENAI_BASE_URL, with
  OPENAI_API_KEY.

Each value remembers where it came from (`Origin`), so `ftctl config` and the first line of
`--debug` can say so. The key itself is never part of any description.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from ftctl.errors import UsageError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
Provider = Literal["openai", "azure"]
OPENAI: Final = "openai"
AZURE: Final = "azure"
PROVIDERS: tuple[Provider, ...] = (OPENAI, AZURE)

# The SDK's own variable names, so an environment set up for `AzureOpenAI()` works unchanged.
AZURE_ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"
API_VERSION_ENV = "OPENAI_API_VERSION"
OPENAI_KEY_ENV = "OPENAI_API_KEY"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"
EXAMPLE_API_VERSION = "2025-04-01-preview"


@dataclass(frozen=True)
class Origin:
    """Where each setting came from: a flag, a variable, or the default."""

    platform: str = "default"
    endpoint: str = "default"
    api_version: str = "-"
    key: str = OPENAI_KEY_ENV


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)  # never printed
    base_url: str = DEFAULT_BASE_URL  # OpenAI: the API root; Azure: the resource endpoint
    organization: str | None = None
    project: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    debug: bool = False
    provider: Provider = OPENAI
    api_version: str | None = None  # Azure only
    origin: Origin = field(default_factory=Origin)

    @property
    def is_azure(self) -> bool:
        return self.provider == AZURE

    @property
    def key_env(self) -> str:
        """The variable the key is read from on this platform."""
        return self.origin.key

    @property
    def platform_name(self) -> str:
        if self.is_azure:
            return "Azure OpenAI"
        if self.base_url == DEFAULT_BASE_URL:
            return "OpenAI"
        return "OpenAI-compatible service"

    def describe(self) -> str:
        """One line: platform, endpoint, api-version and where each came from; never the key."""
        parts = [
            f"platform: {self.platform_name} ({self.origin.platform})",
            f"endpoint: {self.base_url} ({self.origin.endpoint})",
        ]
        if self.is_azure:
            parts.append(f"api-version: {self.api_version} ({self.origin.api_version})")
        parts.append(f"key: {self.key_env} ({'set' if self.api_key else 'not set'})")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        """What `ftctl config --json` prints: the same facts as describe(), never the key."""
        return {
            "provider": self.provider,
            "platform": self.platform_name,
            "platform_from": self.origin.platform,
            "endpoint": self.base_url,
            "endpoint_from": self.origin.endpoint,
            "api_version": self.api_version,
            "api_version_from": self.origin.api_version if self.is_azure else None,
            "key_variable": self.key_env,
            "key_set": bool(self.api_key),
        }

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        debug: bool = False,
        provider: str | None = None,
    ) -> Settings:
        """Flags win over the environment, which wins over defaults."""
        env = os.environ if env is None else env
        chosen, platform_origin = _choose_provider(env, provider)
        common = cls(
            organization=env.get("OPENAI_ORG_ID") or None,
            project=env.get("OPENAI_PROJECT_ID") or None,
            timeout=timeout if timeout is not None else 60.0,
            max_retries=max_retries if max_retries is not None else 2,
            debug=debug,
        )
        if chosen == AZURE:
            endpoint, endpoint_origin = _pick(
                base_url, "--base-url", env.get(AZURE_ENDPOINT_ENV), AZURE_ENDPOINT_ENV
            )
            version = env.get(API_VERSION_ENV) or None
            return replace(
                common,
                api_key=env.get(AZURE_KEY_ENV) or None,
                base_url=(endpoint or "").rstrip("/"),
                provider=AZURE,
                api_version=version,
                origin=Origin(
                    platform=platform_origin,
                    endpoint=endpoint_origin if endpoint else "not set",
                    api_version=API_VERSION_ENV if version else "not set",
                    key=AZURE_KEY_ENV,
                ),
            )
        url, url_origin = _pick(
            base_url, "--base-url", env.get(OPENAI_BASE_URL_ENV), OPENAI_BASE_URL_ENV
        )
        return replace(
            common,
            api_key=env.get(OPENAI_KEY_ENV) or None,
            base_url=(url or DEFAULT_BASE_URL).rstrip("/"),
            provider=OPENAI,
            origin=Origin(platform=platform_origin, endpoint=url_origin, key=OPENAI_KEY_ENV),
        )

    def check_complete(self) -> None:
        """Refuse, before any request, settings the platform cannot work with (not the key:
        whoever builds the client checks that)."""
        if not self.is_azure:
            return
        if not self.base_url:
            raise UsageError(
                f"Azure OpenAI needs an endpoint: set {AZURE_ENDPOINT_ENV}",
                hint=f"export {AZURE_ENDPOINT_ENV}=https://YOUR-RESOURCE.openai.azure.com "
                "(or pass --provider openai to talk to OpenAI)",
            )
        if not self.api_version:
            raise UsageError(
                f"Azure OpenAI needs an API version: set {API_VERSION_ENV}",
                hint=f"export {API_VERSION_ENV}={EXAMPLE_API_VERSION}",
            )


def _choose_provider(env: Mapping[str, str], flag: str | None) -> tuple[Provider, str]:
    if flag is not None:
        name = flag.strip().lower()
        if name not in PROVIDERS:
            raise UsageError(
                f"unknown --provider '{flag}'", hint=f"use one of: {', '.join(PROVIDERS)}"
            )
        return (AZURE if name == AZURE else OPENAI), "--provider"
    if env.get(AZURE_ENDPOINT_ENV):
        return AZURE, f"{AZURE_ENDPOINT_ENV} is set"
    return OPENAI, "default"


def _pick(
    flag_value: str | None, flag_name: str, env_value: str | None, env_name: str
) -> tuple[str | None, str]:
    if flag_value:
        return flag_value, flag_name
    if env_value:
        return env_value, env_name
    return None, "default"
