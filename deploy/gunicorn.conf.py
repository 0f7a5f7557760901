"""gunicorn settings for records-gateway: `gunicorn -c deploy/gunicorn.conf.py 'gateway:create_app()'`."""

import os

from gateway.workers import ServerSettingError, server_settings

try:
    _server = server_settings(os.environ)
except ServerSettingError as exc:  # one line, not gunicorn's traceback
    raise SystemExit(f"records-gateway: {exc}") from None

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
# Two sync workers per core is gunicorn's usual advice; the work is short database calls.
workers = _server["workers"]
# sync: one request at a time per worker, the connection closed after each. gthread
# (GATEWAY_WORKER_CLASS=gthread, GATEWAY_THREADS=n) keeps connections alive and lets a
# worker serve another request while one waits on the database; see docs/benchmarks.md.
# Either way the gateway's subclass (gateway/workers.py), which answers what gunicorn
# refuses itself (414 request line too long, 431 header fields too large, 400...) with
# RFC 9457 problem details instead of HTML. Another class name is used as given, if it
# is a gunicorn worker class (gateway.workers.server_settings checks all three).
worker_class = _server["worker_class"]
threads = _server["threads"]
timeout = 30
# A read's purpose and stated interest travel in the query string (up to 2,000 characters
# each, percent-encoded): gunicorn's largest request line, not its default 4,094 bytes.
limit_request_line = 8190
graceful_timeout = 20
keepalive = 5
# Settings are read and checked once per worker at start-up; fail before serving.
preload_app = False
# structlog writes the one line per request; gunicorn's own access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = "info"
# gunicorn 25.1+ opens a control socket in $HOME by default; the gateway has no use for
# it, and two servers on one machine would take each other's.
control_socket_disable = True
# Behind a TLS-terminating proxy: trust its X-Forwarded-* only from these addresses.
forwarded_allow_ips = os.environ.get("GATEWAY_FORWARDED_ALLOW_IPS", "127.0.0.1")
