"""What ``make run`` prints before it serves: a local API key and a request to try.

``python -m service.demo OUT`` writes ``OUT/api_keys.txt`` (a portal and an
admin key, made once, kept between runs) and ``OUT/example_request.json`` (a
dossier like one the simulator labelled as account misuse, with a new ID and
a submission time after the history), and prints the curl commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from service.auth import new_key


def keys(out: Path) -> tuple[str, str]:
    """The local portal and admin keys (made on the first run)."""
    path = out / "api_keys.txt"
    if not path.exists():
        path.write_text(f"{new_key()}:portal\n{new_key()}:admin\n")
        path.chmod(0o600)
    portal, admin = (line.rsplit(":", 1)[0] for line in path.read_text().split())
    return portal, admin


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
    body = out / "example_request.json"
    body.write_text(json.dumps(example(out), ensure_ascii=False, indent=2) + "\n")
    url = f"http://127.0.0.1:{port}"
    print(
        f"""
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
