"""One Settings object for the whole application, built once and handed to every service."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from siyada.governance.egress import ENV_EGRESS_ALLOW, EgressPolicy, parse_allow_list

ENV_HOME = "SIYADA_HOME"
ENV_EMBEDDER = "SIYADA_EMBEDDER"
DEFAULT_EMBEDDER = "e5"
DEFAULT_MAX_FILE_MB = 200
DEFAULT_TENANT = "default"
"""The operator's own tenant: its admins manage every tenant."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    embedder: str = DEFAULT_EMBEDDER
    """``e5`` (in process), ``none`` (lexical search only) or ``openai:URL#MODEL``."""
    max_file_mb: int = DEFAULT_MAX_FILE_MB
    answer_timeout: float = 120.0
    """Seconds a model may take for one answer, in the server."""
    egress_allow: tuple[str, ...] = ()
    """Hosts and networks, besides loopback and private ones, that backends may be on."""
    tenant: str = DEFAULT_TENANT
    """The tenant local commands act for (the server takes it from the API key)."""

    @classmethod
    def resolve(cls, data_dir: Path | None = None) -> Settings:
        """``--data-dir`` if given, else ``$SIYADA_HOME``, else the XDG data directory."""
        if data_dir is not None:
            chosen = data_dir
        elif os.environ.get(ENV_HOME):
            chosen = Path(os.environ[ENV_HOME])
        else:
            chosen = Path(user_data_dir("siyada", appauthor=False))
        return cls(
            data_dir=chosen.expanduser().resolve(),
            embedder=os.environ.get(ENV_EMBEDDER) or DEFAULT_EMBEDDER,
            egress_allow=parse_allow_list(os.environ.get(ENV_EGRESS_ALLOW, "")),
        )

    @property
    def egress(self) -> EgressPolicy:
        return EgressPolicy(self.egress_allow)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "siyada.db"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def secrets_dir(self) -> Path:
        """Secrets the server keeps (the key-hashing secret); the audit signing key is in audit/."""
        return self.data_dir / "secrets"

    @property
    def admin_key_path(self) -> Path:
        """The local admin key ``siyada serve`` creates on first start (mode 0600)."""
        return self.data_dir / "admin.key"

    @property
    def audit_dir(self) -> Path:
        return self.data_dir / "audit"
