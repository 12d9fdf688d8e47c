"""TLS on one machine: the CSMS's CA made at the first start and kept in the data dir, and the `wss://` listener's
server certificate, which that CA signs at every start (or an operator's own certificate and key).

Chargers trust the CA file (`<data dir>/secrets/ca-certificate`): it is also what signs their own certificates,
so a charger that trusts it for the server trusts whoever signs it for its client certificate too.
"""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

from services.connectivity import authority
from services.connectivity.certificates import CA_CERTIFICATE, CA_KEY
from services.shared import clock
from services.shared.manifest import environment_key
from services.shared.settings import settings

SERVER_CERTIFICATE = "server-certificate.pem"
SERVER_KEY = "server-key.pem"


def _given(secrets_dir: Path, name: str) -> str | None:
    """A secret's value as local/provision.py reads it: the environment first, then the data dir's file."""
    path = secrets_dir / name
    return os.environ.get(f"CSMS_SECRET_{environment_key(name)}") or (path.read_text() if path.is_file() else None)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def ensure_authority(data_dir: Path) -> authority.Authority:
    """The CA the services will read: the one given (environment or data dir), else a new one written to the data dir
    (the key readable by its owner only), so that it is the same CA at every later start."""
    secrets_dir = data_dir / "secrets"
    certificate, key = _given(secrets_dir, CA_CERTIFICATE), _given(secrets_dir, CA_KEY)
    if certificate is None and key is None:
        certificate, key = authority.new_authority(settings().organization, clock.now())
        _write(secrets_dir / CA_KEY, key, 0o600)
        _write(secrets_dir / CA_CERTIFICATE, certificate, 0o644)
    if certificate is None or key is None:
        raise SystemExit(f"csms: the CA needs both {secrets_dir / CA_CERTIFICATE} and {secrets_dir / CA_KEY} "
                         "(or neither, to make a new one)")
    try:
        return authority.load(certificate, key)
    except authority.BadAuthority as error:
        raise SystemExit(f"csms: the CA in {secrets_dir}: {error}") from None


def server_hosts(host: str) -> list[str]:
    """What a charger on this machine or its network may call the CSMS: the listen address unless it is a wildcard,
    localhost, the loopback addresses and the machine's name."""
    wildcard = host in ("0.0.0.0", "::", "")
    return list(dict.fromkeys([*([] if wildcard else [host]), "localhost", "127.0.0.1", "::1", socket.gethostname()]))


def server_context(data_dir: Path, host: str, certificate_file: Path | None = None,
                   key_file: Path | None = None) -> tuple[ssl.SSLContext, Path]:
    """The `wss://` listener's TLS context and the certificate file it serves: the given certificate and key, or
    a new one for `server_hosts(host)` signed by the CA (made first if there is none: chargers' certificates need it
    whichever certificate the listener serves)."""
    ca = ensure_authority(data_dir)
    if certificate_file is None or key_file is None:
        chain, key = authority.server_certificate(ca, server_hosts(host), clock.now())
        certificate_file, key_file = data_dir / "tls" / SERVER_CERTIFICATE, data_dir / "tls" / SERVER_KEY
        _write(key_file, key, 0o600)
        _write(certificate_file, chain, 0o644)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # OCPP's security profiles ask for TLS 1.2 or later
    try:
        context.load_cert_chain(certificate_file, key_file)
    except (OSError, ssl.SSLError) as error:
        raise SystemExit(f"csms: cannot serve wss:// with {certificate_file} and {key_file}: {error}") from None
    return context, certificate_file
