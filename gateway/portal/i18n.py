"""English and Spanish (Flask-Babel): the locale, and the catalogues compiled at start-up.

The .po files are the source; they are compiled when the application starts, into a
directory named by their content under the system's temporary directory, so a fresh
checkout (or a read-only install) never serves stale or missing translations.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request, session

SOURCE = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"
SESSION_KEY = "language"


def compiled_translations(source: Path = SOURCE) -> Path:
    """A directory of <locale>/LC_MESSAGES/messages.mo compiled from ``source``'s .po."""
    catalogs = sorted(source.glob("*/LC_MESSAGES/messages.po"))
    digest = hashlib.sha256()
    for po in catalogs:
        digest.update(str(po.relative_to(source)).encode() + b"\0" + po.read_bytes())
    target = Path(tempfile.gettempdir()) / f"records-gateway-translations-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=".records-gateway-translations-",
                                    dir=target.parent))
    try:
        for po in catalogs:
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parts[-3])
            buffer = io.BytesIO()
            write_mo(buffer, catalog, use_fuzzy=False)
            mo = staging / po.relative_to(source).with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            mo.write_bytes(buffer.getvalue())
        try:
            os.rename(staging, target)  # atomic; another process may have won the race
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def select_locale() -> str:
    """The language the person chose (on the site, or kept on their account and put in
    the session at sign-in), else the browser's preference."""
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT
