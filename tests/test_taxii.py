"""intel push / pull over TAXII 2.1: a bundle pushed to a real TAXII server on 127.0.0.1 (the
OASIS reference server, medallion) and pulled back into a store keeps the same indicators as a
file import; bad credentials, an unreachable server and a read-only collection fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.gateway.local import free_port
from tests.test_intel import CAMPAIGN, _export, _results

WRITABLE = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
READ_ONLY = "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4"
ENV = {"DISTILLGUARD_TAXII_PASSWORD": "s3cret"}


def _collection(cid: str, title: str, write: bool) -> dict[str, Any]:
    return {"id": cid, "title": title, "can_read": True, "can_write": write,
            "media_types": ["application/stix+json;version=2.1"], "objects": [],
            "manifest": []}  # fmt: skip


@pytest.fixture
def taxii(tmp_path: Path) -> Iterator[str]:
    """A medallion TAXII 2.1 server with an in-memory backend; yields the API root URL."""
    port = free_port()
    root = f"http://127.0.0.1:{port}/api1/"
    data = {
        "/discovery": {"title": "partners", "default": root, "api_roots": [root]},
        "api1": {
            "information": {
                "title": "sharing",
                "max_content_length": 64 << 20,
                "versions": ["application/taxii+json;version=2.1"],
            },
            "status": [],
            "collections": [
                _collection(WRITABLE, "distillation", True),
                _collection(READ_ONLY, "read only", False),
            ],
        },
    }
    (tmp_path / "taxii-data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(tmp_path / "taxii-data.json"),
        },
        "users": {"lab-a": ENV["DISTILLGUARD_TAXII_PASSWORD"]},
        "taxii": {"max_page_size": 10},  # small pages, so a pull has to follow them
    }
    (tmp_path / "taxii.json").write_text(json.dumps(config))
    server = subprocess.Popen(
        [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1",
         "--port", str(port), str(tmp_path / "taxii.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/taxii2/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the TAXII server did not start") from None
                time.sleep(0.1)
        yield root
    finally:
        server.terminate()
        server.wait(10)


def _intel(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["intel", *args], env=ENV if env is None else env)


def _stored(store: Path) -> set[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        return set(con.execute(
            "SELECT source, stix_id, kind, value, confidence, campaign, local_value "
            "FROM partner_indicators"
        ).fetchall())  # fmt: skip


def test_a_pushed_bundle_pulls_back_into_a_store_as_a_file_import_would(
    tmp_path: Path, taxii: str
) -> None:
    _results(tmp_path, [CAMPAIGN])
    assert _export(tmp_path, "--all", "--producer", "Lab A").exit_code == 0
    bundle = tmp_path / "bundle.json"
    sent = len(json.loads(bundle.read_text())["objects"])
    pushed = _intel("push", str(bundle), "--url", taxii, "--collection", WRITABLE,
                    "--user", "lab-a")  # fmt: skip
    assert pushed.exit_code == 0, pushed.output
    assert f"complete, {sent} objects added, 0 refused" in pushed.output
    assert sent > 10  # more than one page of the server's

    salt = ["--salt-file", str(tmp_path / "partner.salt")]
    pulled = _intel("pull", "--url", taxii, "--collection", WRITABLE, "--user", "lab-a",
                    "--source", "Lab A", "--store", str(tmp_path / "pulled.duckdb"),
                    *salt)  # fmt: skip
    assert pulled.exit_code == 0, pulled.output
    filed = _intel("import", str(bundle), "--store", str(tmp_path / "filed.duckdb"), *salt)
    assert filed.exit_code == 0, filed.output
    assert _stored(tmp_path / "pulled.duckdb") == _stored(tmp_path / "filed.duckdb") != set()

    later = _intel("pull", "--url", taxii, "--collection", WRITABLE, "--user", "lab-a",
                   "--source", "Lab A", "--store", str(tmp_path / "later.duckdb"),
                   "--added-after", "2999-01-01T00:00:00Z")  # fmt: skip
    assert later.exit_code == 0, later.output
    assert ": 0 objects; kept 0" in " ".join(later.output.split())  # nothing added since


def test_taxii_failures_are_clear(tmp_path: Path, taxii: str) -> None:
    _results(tmp_path, [CAMPAIGN])
    _export(tmp_path, "--all")
    bundle = str(tmp_path / "bundle.json")
    wrong = _intel("push", bundle, "--url", taxii, "--collection", WRITABLE, "--user", "lab-a",
                   env={"DISTILLGUARD_TAXII_PASSWORD": "wrong"})  # fmt: skip
    assert wrong.exit_code == 2
    assert "401" in wrong.output
    closed = _intel("push", bundle, "--url", taxii, "--collection", READ_ONLY, "--user", "lab-a")
    assert closed.exit_code == 2
    assert "does not accept writes" in closed.output
    nowhere = f"http://127.0.0.1:{free_port()}/api1/"
    gone = _intel("pull", "--url", nowhere, "--collection", WRITABLE, "--source", "Lab A",
                  "--store", str(tmp_path / "s.duckdb"))  # fmt: skip
    assert gone.exit_code == 2
    assert nowhere in gone.output
    missing = _intel("push", str(tmp_path / "nope.json"), "--url", taxii, "--collection", WRITABLE)
    assert missing.exit_code == 2
    assert "no such bundle file" in missing.output
