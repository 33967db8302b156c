"""The pseudonymisation secret: never a default, made per installation, kept at 0600.

The probe behind issue #14 recovered a full citizen ID from a viewer's case
page in 4.9 s: the evidence pseudonyms were HMACs keyed with a built-in
development string whenever ``DETECTOR_STATE_SECRET`` was unset.
"""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from features import pseudonymiser
from service.app import create_app
from service.cases._private import evidence_pseudonymiser
from service.settings import KNOWN_SECRETS, PLACEHOLDERS, SecretError, Settings
from tests.service.svc import KEYS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_without_a_variable_the_installation_makes_its_own_secret_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = Settings(state_dir=state).secret()
    assert len(first) == 64 and all(c in b"0123456789abcdef" for c in first)
    assert _mode(state / "secret") == 0o600
    assert _mode(state) == 0o700
    # read back, not made again: pseudonyms stay the same across restarts and processes
    assert Settings(state_dir=state).secret() == first
    # another installation gets another secret
    assert Settings(state_dir=tmp_path / "other").secret() != first


@pytest.mark.parametrize("value", sorted(PLACEHOLDERS - {""}) + sorted(KNOWN_SECRETS))
def test_a_placeholder_or_a_published_secret_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SecretError, match="placeholder or a published value"):
        Settings(state_dir=tmp_path, state_secret=value).secret()


def test_a_short_or_blank_secret_is_refused_with_what_was_found(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="at least 32 characters, found 12"):
        Settings(state_dir=tmp_path, state_secret="x" * 12).secret()
    with pytest.raises(SecretError):  # set, but only spaces: not "unset"
        Settings(state_dir=tmp_path, state_secret="   ").secret()


def test_a_secret_file_others_can_read_or_that_was_edited_is_refused(tmp_path: Path) -> None:
    Settings(state_dir=tmp_path).secret()
    path = tmp_path / "secret"
    path.chmod(0o644)
    with pytest.raises(SecretError, match=r"mode 0644.*chmod 600"):
        Settings(state_dir=tmp_path).secret()
    path.chmod(0o600)
    path.write_text("hunter2\n")
    with pytest.raises(SecretError, match="expected 64 hex digits"):
        Settings(state_dir=tmp_path).secret()


def test_the_server_refuses_to_start_on_a_known_secret(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        data_dir=tmp_path,
        model_dir=tmp_path,
        api_keys=KEYS,
        state_secret="development only: not a secret",
    )
    with pytest.raises(SecretError):
        create_app(settings)


def test_the_sqlite_store_is_made_readable_by_its_owner_only(tmp_path: Path) -> None:
    url = Settings(state_dir=tmp_path / "state").database()
    db = Path(url.removeprefix("sqlite:///"))
    assert _mode(db) == 0o600 and _mode(db.parent) == 0o700
    # a file an earlier version left world-readable is tightened
    db.chmod(0o644)
    Settings(state_dir=tmp_path / "state").database()
    assert _mode(db) == 0o600


def test_a_pseudonym_cannot_be_reversed_with_any_key_the_repository_knows(
    tmp_path: Path,
) -> None:
    # the probe's attack: take the masked ID and the pseudonym a viewer sees, try every
    # value that fits the mask through the HMAC. With the installation's own key no
    # published key reproduces the pseudonym, even on a candidate set holding the truth.
    owner = "051203004552"
    pseudonym = evidence_pseudonymiser(Settings(state_dir=tmp_path).secret())(owner)
    candidates = [f"0512030{n:05d}" for n in range(4000, 5000)]
    assert owner in candidates
    for key in KNOWN_SECRETS | PLACEHOLDERS:
        keyed = pseudonymiser(key.encode(), digest_size=6) if key else None
        for guess in candidates:
            # the HMAC the probe reversed, and today's keyed hash, under every published key
            tried = hmac.new(key.encode(), guess.encode(), hashlib.sha256).hexdigest()[:12]
            assert tried != pseudonym
            assert keyed is None or keyed(guess) != pseudonym
    assert evidence_pseudonymiser(Settings(state_dir=tmp_path).secret())(owner) == pseudonym
