"""Settings, read once from ``DESKCHAT_*`` environment variables (and ``.env``) and passed in."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

import structlog
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = structlog.get_logger()
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class Settings(BaseSettings):
    """Every setting of a deskchat server; see the README for each one."""

    model_config = SettingsConfigDict(env_prefix="DESKCHAT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    secret_key: str = ""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_email: str | None = None
    admin_password: str | None = None
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"
    rate_limit_enabled: bool = True
    rate_limit_new_chats_per_minute: int = 60
    rate_limit_messages_per_10s: int = 20
    rate_limit_failed_logins_per_15min: int = 10
    sweep_interval_seconds: float = 1.0
    presence_ttl_seconds: float = 45.0
    offline_grace_seconds: float = 5.0
    ws_ping_interval_seconds: float = 20.0
    ws_send_queue_size: int = 1000
    rate_limit_failed_logins_per_address_15min: int = 30
    login_slowdown_seconds: float = Field(default=0.5, ge=0)
    cookie_secure: bool = False
    migrate_on_start: bool = True
    # accounts and tokens
    token_ttl_hours: float = Field(default=12.0, gt=0)
    token_idle_minutes: float = Field(default=120.0, gt=0)
    visitor_token_days: float = Field(default=7.0, gt=0)
    password_checks_at_once: int = Field(default=2, ge=1)
    password_checks_waiting: int = Field(default=64, ge=0)
    # sizes and counts (the socket caps apply whatever rate_limit_enabled says)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    ws_max_frame_bytes: int = Field(default=128 * 1024, ge=1024)
    ws_auth_frame_bytes: int = Field(default=4096, ge=256)
    max_sockets_per_token: int = Field(default=10, ge=1)
    max_unauthenticated_sockets: int = Field(default=1000, ge=1)
    ws_reauth_seconds: float = Field(default=1.0, ge=0)  # longest a socket frame relies on the last account check
    # operations
    redis_prefix: str = Field(default="deskchat", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    metrics_token: str | None = None
    # known requesters
    identity_secret: str | None = Field(default=None, min_length=32)  # HS256 key the company portal signs with
    search_index_seconds: float = Field(default=1.0, gt=0)  # how soon new text is searchable
    # email and webhooks (the outbox)
    smtp_host: str | None = None  # unset: email is off
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    mail_from: str = "deskchat@localhost"
    webhook_allow_private: bool = False
    outbox_retry_seconds: float = Field(default=5.0, gt=0)  # the first retry; later ones follow the schedule
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_lease_seconds: float = Field(default=60.0, ge=11)  # a claim outlives a send's 10 s timeouts
    # single sign-on (OpenID Connect): on when issuer and client id are set
    public_url: str | None = None  # the server's external base URL, e.g. https://chat.example.com
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    oidc_trust_email: bool = False  # the provider never sends email_verified, and its emails are verified

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _exact_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: list each one as scheme://host[:port] "
                                 "('*' would let every site use the visitors' and technicians' sessions)")
        return value

    @field_validator("public_url", "oidc_issuer")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"{value!r} is not a base URL: write it as https://host[:port][/path]")
        return value

    @model_validator(mode="after")
    def _sso_complete(self) -> Settings:
        if (self.oidc_issuer or self.oidc_client_id) and not (self.oidc_issuer and self.oidc_client_id
                                                                and self.public_url):
            raise ValueError("single sign-on needs DESKCHAT_OIDC_ISSUER, DESKCHAT_OIDC_CLIENT_ID and "
                             "DESKCHAT_PUBLIC_URL (the redirect URI is <public_url>/api/v1/auth/oidc/callback)")
        return self

    @property
    def oidc_enabled(self) -> bool:
        """True when OpenID Connect single sign-on is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id and self.public_url)

    def resolved(self) -> Settings:
        """Fill the defaults that depend on the data dir: database file and secret key."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        updates: dict[str, object] = {}
        if not self.database_url:
            updates["database_url"] = f"sqlite+aiosqlite:///{(self.data_dir / 'deskchat.sqlite3').resolve()}"
        if not self.secret_key:
            updates["secret_key"] = _stored_secret(self.data_dir)
        return self.model_copy(update=updates) if updates else self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.database_url.startswith("sqlite")


def _stored_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    log.warning("secret_key_generated", path=str(path), hint="set DESKCHAT_SECRET_KEY in production")
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings() -> Settings:
    """Read the settings from the environment and resolve derived defaults."""
    return Settings().resolved()
