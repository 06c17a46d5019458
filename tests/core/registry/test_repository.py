"""Registry versions in memory and in SQLite: +1 per accepted change, old versions kept."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest

from credits_core.errors import NotFound, RegistryInvalid, RegistryVersionConflict
from credits_core.registry import MemoryRegistryRepository, SqliteRegistryRepository


@pytest.fixture(params=["memory", "sqlite"])
def repo(request, tmp_path):
    if request.param == "memory":
        return MemoryRegistryRepository("acme")
    return SqliteRegistryRepository(tmp_path / "registry.sqlite3", "acme")


def with_cost(repo, tool: str, credits: int) -> dict:
    doc = copy.deepcopy(repo.current().to_json())
    for item in doc["tools"]:
        if item["id"] == tool:
            item["credits"] = credits
    return doc


def test_starts_at_the_default_registry_for_the_tenant(repo):
    reg = repo.current()
    assert (reg.tenant, reg.version) == ("acme", 1)
    assert [v["version"] for v in repo.versions()] == [1]


def test_each_accepted_change_is_the_next_version_and_old_ones_stay(repo):
    v2 = repo.save(with_cost(repo, "ask_ai", 2))
    v3 = repo.save(with_cost(repo, "ask_ai", 3))
    assert (v2.version, v3.version) == (2, 3)
    assert repo.current().tool("ask_ai").credits == 3
    assert repo.get(1).tool("ask_ai").credits == 1 and repo.get(2).tool("ask_ai").credits == 2
    assert [v["version"] for v in repo.versions()] == [3, 2, 1]
    assert v3.tenant == "acme" and v3.updated_at.endswith("Z")


def test_version_and_tenant_in_the_document_are_ignored(repo):
    doc = with_cost(repo, "ask_ai", 2)
    doc.update(version=99, tenant="other")
    reg = repo.save(doc)
    assert (reg.version, reg.tenant) == (2, "acme")


def test_an_invalid_document_is_rejected_and_the_version_unchanged(repo):
    doc = with_cost(repo, "ask_ai", -1)
    with pytest.raises(RegistryInvalid):
        repo.save(doc)
    assert repo.current().version == 1 and len(repo.versions()) == 1


def test_expected_version_guards_against_lost_updates(repo):
    repo.save(with_cost(repo, "ask_ai", 2), expected_version=1)
    with pytest.raises(RegistryVersionConflict) as info:
        repo.save(with_cost(repo, "ask_ai", 3), expected_version=1)
    assert info.value.details["currentVersion"] == 2
    assert repo.current().tool("ask_ai").credits == 2


def test_missing_version_is_not_found(repo):
    with pytest.raises(NotFound):
        repo.get(42)


def test_sqlite_versions_are_shared_by_every_connection_to_the_file(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    first = SqliteRegistryRepository(path, "acme")
    second = SqliteRegistryRepository(path, "acme")
    first.save(with_cost(first, "ask_ai", 9))
    assert second.current().version == 2 and second.current().tool("ask_ai").credits == 9
    other_tenant = SqliteRegistryRepository(path, "beta")
    assert other_tenant.current().version == 1


def test_sqlite_registry_survives_a_reopen(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    SqliteRegistryRepository(path).save(with_cost(MemoryRegistryRepository(), "comps_report", 4))
    reopened = SqliteRegistryRepository(path)
    assert reopened.current().version == 2 and reopened.current().tool("comps_report").credits == 4
    stored = sqlite3.connect(path).execute("SELECT doc FROM registry_versions WHERE version=2").fetchone()[0]
    assert json.loads(stored)["version"] == 2
