"""What ``make run`` prints before it serves: local keys and logins, and a request to try.

``python -m service.demo OUT`` writes ``OUT/api_keys.txt`` (a portal and an
admin key, made once, kept between runs), ``OUT/logins.txt`` (a workbench
user per role with a random password, made once, mode 600, and added to the
case store if it is not there) and ``OUT/example_request.json`` (a dossier
like one the simulator labelled as account misuse, with a new ID and a
submission time after the history), and prints the address, the logins and
the curl commands.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pandas as pd

from service.auth import new_key
from service.cases.db import CaseStore
from service.cases.security import UserError, create_user
from service.settings import Settings

#: the local workbench users: name, role, display name
LOCAL_USERS = (
    ("admin", "admin", "Quản trị viên"),
    ("reviewer", "reviewer", "Cán bộ kiểm tra"),
    ("viewer", "viewer", "Người xem"),
)


def keys(out: Path) -> tuple[str, str]:
    """The local portal and admin keys (made on the first run)."""
    path = out / "api_keys.txt"
    if not path.exists():
        path.write_text(f"{new_key()}:portal\n{new_key()}:admin\n")
        path.chmod(0o600)
    portal, admin = (line.rsplit(":", 1)[0] for line in path.read_text().split())
    return portal, admin


def logins(out: Path) -> list[tuple[str, str, str]]:
    """(username, role, password) of the local workbench users, made once and kept in the store."""
    path = out / "logins.txt"
    if not path.exists():
        lines = [f"{name}:{role}:{secrets.token_urlsafe(12)}" for name, role, _ in LOCAL_USERS]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    users = [tuple(line.split(":", 2)) for line in path.read_text().split()]
    names = {name: shown for name, _, shown in LOCAL_USERS}
    store = CaseStore(Settings().database())
    try:
        for name, role, password in users:
            try:
                with store.session() as s:
                    create_user(s, name, password, role, names.get(name, name))
            except UserError:  # already there from an earlier run
                pass
    finally:
        store.dispose()
    return users  # type: ignore[return-value]


def example(out: Path) -> dict[str, object]:
    """A suspicious-looking dossier from the simulated province, re-dated after its history."""
    d = pd.read_csv(out / "data" / "dossiers.csv", dtype=str, keep_default_na=False)
    labels = pd.read_csv(out / "labels.csv", dtype=str)
    misuse = labels.loc[labels["proxy_type"] == "identity_misuse", "dossier_id"]
    row = d[d["dossier_id"].isin(misuse) & (d["channel"] == "online")].iloc[-1].to_dict()
    last = pd.to_datetime(d["submitted_at"], errors="coerce", utc=True, format="ISO8601").max()
    when = (last + pd.Timedelta(hours=1)).tz_convert("Asia/Ho_Chi_Minh")
    row.update(dossier_id="DEMO-0001", submitted_at=when.isoformat(timespec="seconds"))
    for late in ("synced_at", "received_by", "accepted_at"):  # not known at submission
        row.pop(late, None)
    return {k: (v or None) for k, v in row.items()}


def main(out_dir: str, port: str = "8000") -> None:
    out = Path(out_dir)
    portal, admin = keys(out)
    users = logins(out)
    body = out / "example_request.json"
    body.write_text(json.dumps(example(out), ensure_ascii=False, indent=2) + "\n")
    url = f"http://127.0.0.1:{port}"
    print(
        f"""
Inspection workbench on {url}/  (Vietnamese; English from the top bar)
  logins (also in {out}/logins.txt):
"""
        + "".join(f"    {name:<9} {password}   ({role})\n" for name, role, password in users)
        + f"""
Scoring API on {url}  (OpenAPI docs: {url}/docs)
  keys (also in {out}/api_keys.txt): portal {portal}
                                     admin  {admin}
  score one dossier:
    curl -s -X POST {url}/v1/score -H 'X-API-Key: {portal}' \\
         -H 'Content-Type: application/json' -d @{body}
  readiness and metrics:
    curl -s {url}/readyz ; curl -s {url}/metrics | grep detector_
Stop with Ctrl+C.
""",
        flush=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main(*sys.argv[1:])
