"""The Flask application factory."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from flask import Flask

from gateway import api, logs, portal
from gateway.audit_signing import audit_keys
from gateway.identity import AccessTokenValidator
from gateway.policy.engine import PolicyEngine
from gateway.policy.pack import load_pack
from gateway.records_requests.config import load_requests_config
from gateway.services import Services
from gateway.settings import Settings, load_settings, make_data_dir
from gateway.store.crypto import KeyEncryptionKeys
from gateway.store.db import make_engine, make_session_factory


def create_app(overrides: Mapping[str, Any] | None = None, *,
               settings: Settings | None = None) -> Flask:
    """The application: settings, logging, services, blueprints."""
    settings = settings or load_settings(overrides=overrides)
    logs.configure_logging(settings.log_format)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key)
    database = make_engine(settings.database_url)
    app.extensions["gateway"] = Services(
        settings=settings,
        policy=PolicyEngine(load_pack(settings.policy_pack)),
        database=database,
        sessions=make_session_factory(database),
        keys=key_encryption_keys(settings),
        tokens=(AccessTokenValidator(settings.oidc_issuer, settings.oidc_audience)
                if settings.oidc_issuer else None),
        requests_config=load_requests_config(settings.requests_config_file),
        audit_keys=audit_keys(settings),
    )
    logs.init_app(app)
    api.init_app(app)
    portal.init_app(app, settings)  # the pages for parents and custodians
    return app


def key_encryption_keys(settings: Settings) -> KeyEncryptionKeys:
    """The configured key-encryption keys; outside production, a development key file in
    the data directory is made on first use so the embedded default runs as it is."""
    if settings.key_file is not None or settings.kek is not None:
        return KeyEncryptionKeys.load(settings.key_file, settings.kek)
    path = settings.data_dir / "development-kek.txt"
    if not path.exists():
        make_data_dir(settings)
        # Several workers may start at once: write the whole file aside, then link it into
        # place, which fails if another worker got there first (its key is then the key).
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".kek-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write("# development only\n"
                        f"dev-1:{base64.b64encode(os.urandom(32)).decode()}\n")
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return KeyEncryptionKeys.from_file(path)
