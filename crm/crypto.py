"""Personal data at rest: AES-GCM encryption with key ids, and a keyed blind index.

``PII_KEY`` is either one base64 key (32 bytes) or a comma-separated list of ``kid:base64key``
entries. The first key encrypts; every key decrypts, so keys rotate by putting a new one first
(and re-encrypting at leisure). The blind index (HMAC-SHA256) is keyed from the *last* key in the
list, the oldest, so a rotation does not change any index value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.config import ConfigError

_FORMAT = "v1"


@dataclass(frozen=True)
class PiiCipher:
    keys: dict[str, bytes]  # kid -> 32-byte key, in PII_KEY order
    current_kid: str
    index_key: bytes

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        aad = self.current_kid.encode()
        sealed = AESGCM(self.keys[self.current_kid]).encrypt(nonce, plaintext.encode(), aad)
        payload = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_FORMAT}.{self.current_kid}.{payload}"

    def decrypt(self, token: str) -> str:
        try:
            fmt, kid, payload = token.split(".", 2)
        except ValueError as exc:
            raise ValueError("not an encrypted PII value") from exc
        if fmt != _FORMAT or kid not in self.keys:
            raise ValueError(f"no PII key with id {kid!r}")
        raw = base64.urlsafe_b64decode(payload)
        return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def blind_index(self, value: str, purpose: str) -> str:
        """A stable keyed digest of a normalised value; ``purpose`` separates phone from ID no."""
        message = f"{purpose}:{value}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ConfigError(f"PII_KEY: {where} is not valid base64") from exc
    if len(key) != 32:
        raise ConfigError(f"PII_KEY: {where} must decode to 32 bytes, not {len(key)}")
    return key


def _default_kid(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def cipher_from_setting(pii_key: str) -> PiiCipher:
    entries = [e.strip() for e in pii_key.split(",") if e.strip()]
    if not entries:
        raise ConfigError("PII_KEY is empty")
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(entries, start=1):
        if ":" in entry:
            kid, text = entry.split(":", 1)
            kid = kid.strip()
        else:
            text = entry
            kid = ""
        key = _decode_key(text, f"key #{position}")
        kid = kid or _default_kid(key)
        if not kid.isalnum():
            raise ConfigError(f"PII_KEY: key id {kid!r} must be letters and digits")
        keys[kid] = key
    oldest = list(keys.values())[-1]
    index_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"crm blind index"
    ).derive(oldest)
    return PiiCipher(keys=keys, current_kid=next(iter(keys)), index_key=index_key)


_cipher: PiiCipher | None = None


def configure(pii_key: str) -> PiiCipher:
    """Install the process-wide cipher (called by ``create_app``)."""
    global _cipher
    _cipher = cipher_from_setting(pii_key)
    return _cipher


def cipher() -> PiiCipher:
    if _cipher is None:
        raise RuntimeError("PII cipher not configured; create the app first")
    return _cipher
