"""Secure mode of the local stack: a local CA, a server certificate, SCRAM and ES passwords.

Everything is generated once per data directory and reused on every start:
- tls/ca.crt (the CA clients trust), tls/server.crt + tls/server.key (SAN 127.0.0.1 and
  localhost), tls/server.pem (key + certificate, Kafka's PEM keystore);
- secrets/kafka-logging.password (the SCRAM-SHA-512 user `kafka-logging`) and
  secrets/elastic.password (Elasticsearch's `elastic` user), mode 0600.
Secrets are read from these files by whoever needs them; nothing prints them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from kafka_logging.stack.errors import StackError
from kafka_logging.stack.settings import StackSettings

KAFKA_USER = "kafka-logging"
ES_USER_NAME = "elastic"


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {proc.stderr.strip()[-500:]}")


def ensure_certificates(settings: StackSettings) -> Path:
    """The TLS folder with ca.crt, server.crt, server.key and server.pem; made once."""
    tls = settings.tls_dir
    if (tls / "server.pem").is_file():
        return tls
    tls.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", "/CN=kafka-logging local CA", "-keyout", "ca.key", "-out", "ca.crt",
        cwd=tls,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=tls,
    )  # fmt: skip
    (tls / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "server.crt", "-extfile", "san.ext",
        cwd=tls,
    )  # fmt: skip
    (tls / "server.pem").write_text(
        (tls / "server.key").read_text() + (tls / "server.crt").read_text()
    )
    for private in ("ca.key", "server.key", "server.pem"):
        os.chmod(tls / private, 0o640)
    return tls


def password(settings: StackSettings, name: str) -> str:
    """The generated password `name` (kafka-logging, elastic), created on first use."""
    path = password_file(settings, name)
    if not path.is_file():
        settings.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.secrets_dir, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


def password_file(settings: StackSettings, name: str) -> Path:
    return settings.secrets_dir / f"{name}.password"


def create_scram_user(bootstrap: str, user: str, secret: str) -> None:
    """Create or update a SCRAM-SHA-512 user through the admin API (over the plaintext port)."""
    from confluent_kafka import KafkaException  # noqa: PLC0415
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415
    from confluent_kafka.admin._scram import (  # noqa: PLC0415
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), secret.encode()
    )
    try:
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(30)
    except KafkaException as exc:
        raise StackError(f"creating the SCRAM user {user} failed: {exc.args[0]}") from None
