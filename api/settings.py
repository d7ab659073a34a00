"""Settings of the server and storage, from WINKWATCH_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sensor_gateway.config import EnvSettings


def default_gateway_id() -> str:
    """The id generated once for this gateway and kept next to its sensor assignments
    (WINKWATCH_GATEWAY_CONFIG_FILE's folder; see sensor_gateway.config)."""
    from sensor_gateway.config import GatewaySettings, load_or_create_gateway_id

    return load_or_create_gateway_id(GatewaySettings().config_file.parent)


def default_database_url() -> str:
    """SQLite file in the user's data directory (e.g. ~/.local/share/winkwatch/winkwatch.db)."""
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('winkwatch', appauthor=False)) / 'winkwatch.db'}"


class Settings(EnvSettings):
    """Everything configurable; each field reads WINKWATCH_<FIELD NAME> from the environment."""

    model_config = SettingsConfigDict(env_prefix="WINKWATCH_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    # PostgreSQL schema to use (search_path); None = the server's default (public).
    database_schema: str | None = None
    # Names this gateway's sets, so that a restart only marks its own unfinished sets
    # interrupted when several gateways write to one PostgreSQL server. Default: generated
    # once and persisted (host names repeat: every Pi is `raspberrypi`).
    gateway_id: str = Field(default_factory=default_gateway_id, min_length=1, max_length=200)
    # Raw samples and reps of a set in progress reach the database at least this often.
    commit_interval_s: float = Field(default=1.0, gt=0.0, le=1.0)
    # Messages queued per stream client before it counts as too slow and is dropped.
    live_queue_size: int = Field(default=256, ge=8, le=100_000)
    # Rejected tokens one client address may present per minute before it gets 429.
    auth_failures_per_minute: int = Field(default=30, ge=1, le=100_000)
    # Web pages (scheme://host[:port]) besides the server itself allowed to open live
    # WebSockets from a browser, e.g. ["https://gym.example"] behind a reverse proxy.
    allowed_origins: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
