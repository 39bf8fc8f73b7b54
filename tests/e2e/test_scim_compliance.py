"""Independent SCIM tools from PyPI against a live server holding an organisation's SCIM
key: scim2-tester's whole compliance run (discovery, the Users and Groups CRUD, attribute
selection, PATCH add/remove/replace of every attribute the server's schemas publish,
unknown URLs) must report no failure, and round trips through scim2-client (create, get,
replace, modify, delete and list, for users and groups) must give back what was sent,
with every answer validated against the scim2-models RFC 7643 models (the standard User
and Group, not the server's own schemas).

The server's certificate is self-signed: the httpx2 clients use verify=False.

Checks that cannot apply to Gatehouse are listed in NOT_APPLICABLE, each with a one-line
reason (the README lists the same); any other check that errs, or that scim2-tester itself
skips, fails the test.
"""

from __future__ import annotations

import collections
import uuid

import httpx2
import pytest
import scim2_tester.filling as filling
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (Email, Error, Group, GroupMember, ListResponse, Name, NotFoundException, PatchOp,
                          PatchOperation, ResourceType, ResponseParameters, Schema, ScimProvider, SCIMException,
                          SearchRequest, ServiceProviderConfig, User)
from scim2_tester import CheckResult, Status, check_server

from test_orgs import two_orgs
from test_scim import members, scim_key

# (check, resource type, attribute) -> why it cannot apply to Gatehouse.
MEMBER_DISPLAY = ("Gatehouse fills members.display (read-only) with the member's name; scim2-tester expects "
                  "back the empty display it sent")
ROOT_SEARCH = ("POST /.search at the root (every resource type at once) is not offered (501); "
               "/Users/.search and /Groups/.search are")
NOT_APPLICABLE: dict[tuple[str, str | None, str | None], str] = {
    ("search_with_attributes", "User", None): ROOT_SEARCH,
    ("search_with_attributes", "Group", None): ROOT_SEARCH,
    ("check_remove_attribute", "User", "displayName"): "a Gatehouse account always has a display name: removing "
                                                       "it falls back to the username",
    ("check_remove_attribute", "User", "active"): "a Gatehouse account is always enabled or disabled: active "
                                                  "cannot be unassigned",
    ("check_add_attribute", "Group", "members"): MEMBER_DISPLAY,
    ("check_replace_attribute", "Group", "members"): MEMBER_DISPLAY,
}
# Entries scim2-tester does not emit on every run (the members replacement was absent from
# one CI run, present in others; it fills resources with random values): their absence
# does not make the list stale.
MAY_NOT_RUN = {("check_add_attribute", "Group", "members"), ("check_replace_attribute", "Group", "members")}
FAILED = (Status.ERROR, Status.CRITICAL)


@pytest.fixture
def server(gatehouse):
    """The usual fresh server, with a larger per-key burst: scim2-tester sends its few
    hundred requests as fast as the server answers, which on a quick run can exceed the
    default burst of 200 (the rate limit has its own tests in test_api_keys.py)."""
    srv = gatehouse.start(env={"GATEHOUSE_API_KEYS__RATE_LIMIT_BURST": "100000"})
    assert srv.bootstrap_username == "admin" and srv.bootstrap_password, srv.lines
    return srv


def http_client(server, key: str) -> httpx2.Client:
    return httpx2.Client(base_url=server.url("/scim/v2"), headers={"Authorization": f"Bearer {key}"},
                         verify=False, trust_env=False, timeout=60)


def check_id(r: CheckResult) -> tuple[str | None, str | None, str | None]:
    urn = r.data.get("urn") if isinstance(r.data, dict) else None
    return r.title, r.resource_type, urn


def describe(r: CheckResult) -> str:
    title, rtype, urn = check_id(r)
    what = (r.description or "").strip().splitlines()[0] if r.description else ""
    data = r.data if isinstance(r.data, (dict, str)) or r.data is None else repr(r.data)
    return (f"{r.status.name:8} {rtype or '-':5} {title}{f' [{urn}]' if urn else ''}: {r.reason}\n"
            f"         ({what})\n         data: {str(data)[:600]}")


def valid_user_names(monkeypatch) -> None:
    """scim2-tester fills userName with a random UUID (36 characters), which Gatehouse's rule
    (2-32 of a-z0-9._-) refuses; hand it fresh valid names instead (never reused, since a
    deleted user's name stays taken). Every other value is scim2-tester's own."""
    original = filling.get_random_example_value

    def value(path):
        if str(path).rsplit(":", 1)[-1].lower() == "username":
            return "t" + uuid.uuid4().hex[:24]
        return original(path)

    monkeypatch.setattr(filling, "get_random_example_value", value)


def test_scim2_tester_reports_no_failure(server, monkeypatch):
    a, _ = two_orgs(server)
    key = scim_key(a["owner"])["key"]
    valid_user_names(monkeypatch)
    with http_client(server, key) as http:
        results = check_server(SyncSCIMClient(http))

    print(f"\nscim2-tester: {collections.Counter(r.status.name for r in results)}")
    for r in results:
        if check_id(r) in NOT_APPLICABLE:
            print(f"not applicable ({NOT_APPLICABLE[check_id(r)]}): {describe(r)}")
    failures = [r for r in results if check_id(r) not in NOT_APPLICABLE
                and (r.status in FAILED or r.status == Status.SKIPPED)]
    for r in failures:
        print(describe(r))

    assert {"User", "Group"} <= {r.resource_type for r in results}, "both resource types were exercised"
    assert sum(r.status == Status.SUCCESS for r in results) >= 40, collections.Counter(r.status for r in results)
    stale = set(NOT_APPLICABLE) - MAY_NOT_RUN - {check_id(r) for r in results}
    assert not stale, f"NOT_APPLICABLE names checks that no longer run: {stale}"
    assert not failures, f"{len(failures)} failing check(s):\n" + "\n".join(describe(r) for r in failures)


# --------------------------------------------------------------------------- scim2-client

def client_for(http: httpx2.Client) -> SyncSCIMClient:
    """A client that validates every answer against the RFC's User and Group models."""
    scim = SyncSCIMClient(http, provider=ScimProvider(models=[User, Group]))
    scim.discover()
    return scim


def test_scim2_client_round_trips_users_and_groups(server):
    a, _ = two_orgs(server)
    owner = a["owner"]
    with http_client(server, scim_key(owner)["key"]) as http:
        scim = client_for(http)
        config = scim.provider.config
        assert isinstance(config, ServiceProviderConfig)
        assert config.patch.supported and config.etag.supported and config.filter.supported
        assert not config.bulk.supported and not config.sort.supported and not config.change_password.supported
        assert config.filter.max_results == 200
        types = scim.query(ResourceType)
        assert isinstance(types, ListResponse) and {t.id for t in types.resources} == {"User", "Group"}
        schemas = scim.query(Schema)
        assert {str(User.__schema__), str(Group.__schema__)} <= {s.id for s in schemas.resources}

        # Users: create, get, replace, modify, list, delete.
        made = scim.create(User(user_name="RT.User", external_id="rt-1", display_name="Round Trip",
                                name=Name(given_name="Round", family_name="Trip", formatted="Round Trip"),
                                emails=[Email(value="rt@acme.example", type="work", primary=True)], active=True))
        assert isinstance(made, User) and made.id and made.meta.version, made
        assert (made.user_name, made.external_id, made.display_name) == ("rt.user", "rt-1", "Round Trip")
        assert (made.name.given_name, made.name.family_name) == ("Round", "Trip")
        assert [(e.value, e.primary) for e in made.emails] == [("rt@acme.example", True)]
        assert made.active is True
        got = scim.query(User, made.id)
        assert got == made
        part = scim.query(User, made.id, query_parameters=ResponseParameters(attributes=["userName"]))
        assert part.user_name == "rt.user" and part.emails is None and part.display_name is None, part

        got.display_name = "Round Trip 2"
        got.name = Name(given_name="Rounder", family_name="Trip", formatted="Rounder Trip")
        replaced = scim.replace(got)
        assert isinstance(replaced, User) and replaced.display_name == "Round Trip 2", replaced
        assert replaced.name.given_name == "Rounder" and replaced.meta.version != made.meta.version

        patch = PatchOp[User](operations=[
            PatchOperation(op=PatchOperation.Op.replace_, path="displayName", value="Round Trip 3"),
            PatchOperation(op=PatchOperation.Op.add, path="name.familyName", value="Tripp"),
            PatchOperation(op=PatchOperation.Op.remove, path="externalId"),
        ])
        modified = scim.modify(User, made.id, patch)
        now = scim.query(User, made.id)
        assert modified is None or modified == now, (modified, now)
        assert (now.display_name, now.name.family_name, now.external_id) == ("Round Trip 3", "Tripp", None), now

        other = scim.create(User(user_name="rt.other", emails=[Email(value="o@acme.example", primary=True)]))
        listed = scim.query(User, query_parameters=SearchRequest(filter='userName sw "rt."', start_index=1, count=1))
        assert isinstance(listed, ListResponse) and listed.total_results == 2 and len(listed.resources) == 1, listed
        rest = scim.query(User, query_parameters=SearchRequest(filter='userName sw "rt."', start_index=2, count=1))
        assert {listed.resources[0].id, rest.resources[0].id} == {made.id, other.id}
        assert all(isinstance(u, User) for u in listed.resources + rest.resources)

        with pytest.raises(SCIMException) as taken:
            scim.create(User(user_name="rt.user", emails=[Email(value="dup@acme.example", primary=True)]))
        error = taken.value.to_error()
        assert (error.status, error.scim_type) == (409, "uniqueness"), error

        # Groups: create, get, replace, modify, list, delete.
        group = scim.create(Group(display_name="RT Group", external_id="g-rt", members=[GroupMember(value=made.id)]))
        assert isinstance(group, Group) and group.id and group.display_name == "RT Group", group
        assert [m.value for m in group.members] == [made.id]
        assert scim.query(Group, group.id) == group
        assert [g.value for g in scim.query(User, made.id).groups or []] == [group.id]

        group.display_name = "RT Group 2"
        group.members = [GroupMember(value=other.id)]
        replaced = scim.replace(group)
        assert replaced.display_name == "RT Group 2" and [m.value for m in replaced.members] == [other.id]

        add = PatchOp[Group](operations=[PatchOperation(op=PatchOperation.Op.add, path="members",
                                                        value=[GroupMember(value=made.id)])])
        scim.modify(Group, group.id, add)
        assert {m.value for m in scim.query(Group, group.id).members} == {made.id, other.id}
        remove = PatchOp[Group](operations=[PatchOperation(op=PatchOperation.Op.remove,
                                                           path=f'members[value eq "{other.id}"]')])
        scim.modify(Group, group.id, remove)
        assert [m.value for m in scim.query(Group, group.id).members] == [made.id]
        found = scim.query(Group, query_parameters=SearchRequest(filter='displayName eq "RT Group 2"'))
        assert [g.id for g in found.resources] == [group.id] and isinstance(found.resources[0], Group)

        assert scim.delete(Group, group.id) is None
        gone = scim.query(Group, group.id, raise_scim_errors=False)
        assert isinstance(gone, Error) and gone.status == 404, gone
        assert scim.query(User, made.id).groups in (None, [])

        assert scim.delete(User, made.id) is None
        with pytest.raises(NotFoundException):
            scim.query(User, made.id)
        assert members(owner)["rt.user"]["disabled"] is True
        assert members(owner)["rt.other"]["disabled"] is False
