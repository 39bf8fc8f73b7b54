"""Replays of what Microsoft Entra ID and Okta really send to a SCIM 2.0 service provider,
request by request, checked afterwards through SCIM and the admin API (accounts, group
memberships and the roles the "Gatehouse Admins" group maps to).

Entra ID (its provisioning service's documented requests and its long-standing quirks):
the test-connection lookup of a random GUID, `userName eq` lookups with `+` for spaces
before each create, a create carrying the enterprise extension URN, `meta` and `roles:
[]`, capitalised ops (`Replace`, `Add`, `Remove`), `emails[type eq "work"].value` and
`name.givenName` paths, `"active": "False"` / `"True"` as strings, groups created with
the ADSCIM schema URN, members added with `"$ref": null`, looked up with
`excludedAttributes=members`, removed by `members[value eq "…"]`, then DELETE.

Okta (its SCIM 2.0 reference): the `startIndex=1&count=2` connection check, lookups by
`userName eq` with `startIndex=1&count=100`, the default create (userName is the Okta
login, an email address, which breaks Gatehouse's username rule: 400 invalidValue, as an
admin would see before mapping userName to the part before the `@`), creates that carry
`groups: []` and `locale`, profile updates as a PUT of the whole user (with `id`, `meta`
and `groups: []`, which must not drop memberships), group push (create, add members with
`display`, rename with a path-less `replace` whose value holds `id`), deactivation as
`{"op":"replace","value":{"active":false}}` and as a PUT with `active: false`,
reactivation, a member removed by value path, and the pushed group deleted.

Gatehouse usernames are 2–32 characters of a-z0-9._- (case-insensitive), so both
replays map userName to a nickname-style value (Entra: mailNickname; Okta:
String.substringBefore(user.login, "@")), which is what such a deployment configures.
"""

from __future__ import annotations

from test_orgs import two_orgs
from test_scim import (GROUP_SCHEMA, PATCH_OP, SCIM_JSON, USER_SCHEMA, Scim, assert_scim_error, audit,
                       member_ids, members, put_role_mappings, scim_key)

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
OKTA_UA = "Okta SCIM Client 1.0.0"
OKTA_JSON = "application/scim+json; charset=utf-8"


def mapped_org(server):
    """acme with its owner and admin, the "Gatehouse Admins" → admin mapping, and a SCIM key."""
    a, _ = two_orgs(server)
    r = put_role_mappings(a["owner"], [{"group": "Gatehouse Admins", "role": "admin"}])
    assert r.status_code == 200, r.text
    return a, scim_key(a["owner"])["key"]


def ok(r, *codes: int):
    assert r.status_code in codes, (r.request.method, r.request.url, r.request.body, r.status_code, r.text)
    return r.json() if r.content else None


def ops(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def total(body: dict) -> int:
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], body
    return body["totalResults"]


# --------------------------------------------------------------------------- Entra ID

def entra_user(user_name: str, given: str, family: str, email: str, external_id: str) -> dict:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_USER],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
    }


def test_an_entra_id_provisioning_cycle(server):
    a, key = mapped_org(server)
    admin = a["admin"]
    entra = Scim(server, key, content_type=SCIM_JSON)

    # Test connection: a lookup of a GUID that names nobody (and is no valid username).
    r = entra.get('/Users?filter=userName+eq+%22ab1f1d2e-3bde-4a0c-9d6a-2f0e6b0c1f57%22')
    assert total(ok(r, 200)) == 0

    # Lookup, then create, for each assigned user.
    ids = {}
    for nick, given, family, ext in (("Alice.Smith", "Alice", "Smith", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
                                     ("Bob.Jones", "Bob", "Jones", "1b32a1a3-9e3b-4f9f-a0a9-8474d5bfe5f0")):
        assert total(ok(entra.get(f"/Users?filter=userName+eq+%22{nick}%22"), 200)) == 0
        created = ok(entra.post("/Users", entra_user(nick, given, family, f"{nick.lower()}@contoso.example", ext)),
                     201)
        assert created["userName"] == nick.lower() and created["externalId"] == ext, created
        assert created["active"] is True and created["name"]["givenName"] == given, created
        ids[nick.lower()] = created["id"]
    alice, bob = ids["alice.smith"], ids["bob.jones"]
    found = ok(entra.get("/Users?filter=userName+eq+%22Alice.Smith%22"), 200)
    assert total(found) == 1 and found["Resources"][0]["id"] == alice, found
    assert ok(entra.get(f"/Users/{alice}"), 200)["userName"] == "alice.smith"

    # Update name and email, the way Entra words it.
    r = entra.request("PATCH", f"/Users/{alice}", ops(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alicia.jones@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Jones"},
        {"op": "Add", "path": "name.givenName", "value": "Alicia"},
        {"op": "Replace", "path": "displayName", "value": "Alicia Jones"}))
    ok(r, 200, 204)
    u = ok(entra.get(f"/Users/{alice}"), 200)
    assert u["emails"] == [{"value": "alicia.jones@contoso.example", "type": "work", "primary": True}], u
    assert (u["name"]["givenName"], u["name"]["familyName"], u["displayName"]) == ("Alicia", "Jones", "Alicia Jones")
    m = members(admin)["alice.smith"]
    assert (m["email"], m["display_name"], m["role"]) == ("alicia.jones@contoso.example", "Alicia Jones", "member")

    # The group: lookup, create, add both members.
    r = entra.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Gatehouse+Admins%22")
    assert total(ok(r, 200)) == 0
    g = ok(entra.post("/Groups", {"schemas": [GROUP_SCHEMA, ADSCIM_GROUP],
                                  "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                                  "displayName": "Gatehouse Admins", "meta": {"resourceType": "Group"}}), 201)
    gid = g["id"]
    assert g["displayName"] == "Gatehouse Admins" and g.get("members", []) == [], g
    ok(entra.request("PATCH", f"/Groups/{gid}", ops(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": alice}, {"$ref": None, "value": bob}]})),
       200, 204)
    slim = ok(entra.get(f"/Groups/{gid}?excludedAttributes=members"), 200)
    assert slim["id"] == gid and slim["displayName"] == "Gatehouse Admins" and "members" not in slim, slim
    assert member_ids(ok(entra.get(f"/Groups/{gid}"), 200)) == {alice, bob}
    roles = {n: m["role"] for n, m in members(admin).items()}
    assert roles["alice.smith"] == "admin" and roles["bob.jones"] == "admin", roles

    # Unassigned: Entra sends the boolean as a string ("False"), and "True" to undo it.
    ok(entra.request("PATCH", f"/Users/{alice}", ops({"op": "Replace", "path": "active", "value": "False"})),
       200, 204)
    u = ok(entra.get(f"/Users/{alice}"), 200)
    assert u["active"] is False, u
    assert members(admin)["alice.smith"]["disabled"] is True
    ok(entra.request("PATCH", f"/Users/{alice}", ops({"op": "Replace", "path": "active", "value": "True"})),
       200, 204)
    assert ok(entra.get(f"/Users/{alice}"), 200)["active"] is True
    assert members(admin)["alice.smith"]["disabled"] is False
    ok(entra.request("PATCH", f"/Users/{alice}", ops({"op": "Replace", "path": "active", "value": "False"})),
       200, 204)
    found = ok(entra.get("/Users?filter=userName+eq+%22alice.smith%22"), 200)
    assert total(found) == 1 and found["Resources"][0]["active"] is False, "a disabled user is still found"

    # One member removed by value path; the other stays, and so does their role.
    ok(entra.request("PATCH", f"/Groups/{gid}", ops({"op": "Remove", "path": f'members[value eq "{alice}"]'})),
       200, 204)
    assert member_ids(ok(entra.get(f"/Groups/{gid}"), 200)) == {bob}
    roles = {n: m["role"] for n, m in members(admin).items()}
    assert roles["alice.smith"] == "member" and roles["bob.jones"] == "admin", roles
    assert ok(entra.get(f"/Users/{bob}"), 200)["groups"][0]["value"] == gid

    # Hard delete (30 days after the soft delete, in Entra's time).
    r = entra.delete(f"/Users/{alice}")
    assert r.status_code == 204, r.text
    assert_scim_error(entra.get(f"/Users/{alice}"), 404)
    assert total(ok(entra.get("/Users?filter=userName+eq+%22Alice.Smith%22"), 200)) == 0
    assert members(admin)["alice.smith"]["disabled"] is True
    assert member_ids(ok(entra.get(f"/Groups/{gid}"), 200)) == {bob}
    assert entra.delete(f"/Groups/{gid}").status_code == 204
    assert members(admin)["bob.jones"]["role"] == "member"
    assert members(admin)["bob.jones"]["disabled"] is False

    actions = {e["action"] for e in audit(admin, "scim.")}
    assert {"scim.user.created", "scim.user.patched", "scim.user.deactivated", "scim.user.reactivated",
            "scim.user.deleted", "scim.group.created", "scim.group.patched", "scim.group.deleted",
            "scim.role.changed"} <= actions, actions


# --------------------------------------------------------------------------- Okta

def okta_user(user_name: str, email: str, given: str, family: str, external_id: str, **extra) -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "active": True,
        **extra,
    }


def test_an_okta_provisioning_cycle(server):
    a, key = mapped_org(server)
    admin = a["admin"]
    okta = Scim(server, key, content_type=OKTA_JSON, user_agent=OKTA_UA)

    # The connection check, then the import of existing users and groups.
    first = ok(okta.get("/Users?startIndex=1&count=2"), 200)
    assert first["startIndex"] == 1 and len(first.get("Resources", [])) <= 2 and first["itemsPerPage"] <= 2, first
    assert total(ok(okta.get("/Groups?startIndex=1&count=100"), 200)) == 0

    # The default mapping sends the Okta login, an email address: refused, nothing made.
    lookup = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"
    assert total(ok(okta.get(lookup), 200)) == 0
    r = okta.post("/Users", okta_user("test.user@okta.local", "test.user@okta.local", "Test", "User",
                                      "00ujl29u0le5T6Aj10h7"))
    assert_scim_error(r, 400, "invalidValue")
    assert "test.user" not in members(admin) and "test.user@okta.local" not in members(admin)

    # With userName mapped to the login's local part.
    ids = {}
    for nick, given, ext in (("test.user", "Test", "00ujl29u0le5T6Aj10h7"), ("second.user", "Second",
                                                                             "00ujl29u0le5T6Aj10h8")):
        q = f"/Users?filter=userName%20eq%20%22{nick}%22&startIndex=1&count=100"
        assert total(ok(okta.get(q), 200)) == 0
        made = ok(okta.post("/Users", okta_user(nick, f"{nick}@okta.example", given, "User", ext)), 201)
        assert made["userName"] == nick and made["externalId"] == ext and made["active"] is True, made
        ids[nick] = made["id"]
    test_user, second = ids["test.user"], ids["second.user"]
    current = ok(okta.get(f"/Users/{test_user}"), 200)

    # A profile update is a PUT of the whole user, with id, meta and groups: [].
    put = okta_user("test.user", "another.user@okta.example", "Another", "User", "00ujl29u0le5T6Aj10h7",
                    id=test_user, meta=current["meta"])
    put["name"]["middleName"] = "Test"
    put["displayName"] = "Another Test User"
    u = ok(okta.put(f"/Users/{test_user}", put), 200)
    assert (u["name"]["givenName"], u["name"]["familyName"]) == ("Another", "User"), u
    assert u["displayName"] == "Another Test User"
    assert u["emails"] == [{"value": "another.user@okta.example", "type": "work", "primary": True}], u
    m = members(admin)["test.user"]
    assert (m["email"], m["display_name"]) == ("another.user@okta.example", "Another Test User"), m

    # Group push: lookup, create empty, add members with display, rename to the mapped name.
    q = "/Groups?filter=displayName%20eq%20%22Engineering%22&startIndex=1&count=100"
    assert total(ok(okta.get(q), 200)) == 0
    g = ok(okta.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []}), 201)
    gid = g["id"]
    ok(okta.request("PATCH", f"/Groups/{gid}", ops({"op": "add", "path": "members", "value": [
        {"value": test_user, "display": "test.user"}, {"value": second, "display": "second.user"}]})), 200, 204)
    assert member_ids(ok(okta.get(f"/Groups/{gid}"), 200)) == {test_user, second}
    assert members(admin)["test.user"]["role"] == "member", "Engineering maps to no role"
    ok(okta.request("PATCH", f"/Groups/{gid}", ops({"op": "replace", "value": {"id": gid,
                                                                              "displayName": "Gatehouse Admins"}})),
       200, 204)
    g = ok(okta.get(f"/Groups/{gid}?excludedAttributes=members"), 200)
    assert g["displayName"] == "Gatehouse Admins" and "members" not in g, g
    roles = {n: m["role"] for n, m in members(admin).items()}
    assert roles["test.user"] == "admin" and roles["second.user"] == "admin", roles

    # Another profile push (groups: [] again) leaves the memberships alone.
    current = ok(okta.get(f"/Users/{test_user}"), 200)
    ok(okta.put(f"/Users/{test_user}", dict(put, meta=current["meta"])), 200)
    assert member_ids(ok(okta.get(f"/Groups/{gid}"), 200)) == {test_user, second}
    assert [x["value"] for x in ok(okta.get(f"/Users/{test_user}"), 200)["groups"]] == [gid]
    assert members(admin)["test.user"]["role"] == "admin"

    # Deactivate (path-less replace), reactivate, deactivate again as a PUT.
    ok(okta.request("PATCH", f"/Users/{test_user}", ops({"op": "replace", "value": {"active": False}})), 200, 204)
    assert ok(okta.get(f"/Users/{test_user}"), 200)["active"] is False
    assert members(admin)["test.user"]["disabled"] is True
    ok(okta.request("PATCH", f"/Users/{test_user}", ops({"op": "replace", "value": {"active": True}})), 200, 204)
    assert ok(okta.get(f"/Users/{test_user}"), 200)["active"] is True
    assert members(admin)["test.user"]["disabled"] is False
    current = ok(okta.get(f"/Users/{test_user}"), 200)
    u = ok(okta.put(f"/Users/{test_user}", dict(put, meta=current["meta"], active=False)), 200)
    assert u["active"] is False
    assert members(admin)["test.user"]["disabled"] is True
    lookup = "/Users?filter=userName%20eq%20%22test.user%22&startIndex=1&count=100"
    found = ok(okta.get(lookup), 200)
    assert total(found) == 1 and found["Resources"][0]["active"] is False, found

    # Unassigned from the pushed group: removed by value path; the other member stays.
    ok(okta.request("PATCH", f"/Groups/{gid}", ops({"op": "remove", "path": f'members[value eq "{test_user}"]'})),
       200, 204)
    assert member_ids(ok(okta.get(f"/Groups/{gid}"), 200)) == {second}
    roles = {n: m["role"] for n, m in members(admin).items()}
    assert roles["test.user"] == "member" and roles["second.user"] == "admin", roles
    assert ok(okta.get(f"/Users/{test_user}"), 200).get("groups", []) == []

    # The pushed group deleted in the app.
    assert okta.delete(f"/Groups/{gid}").status_code == 204
    assert_scim_error(okta.get(f"/Groups/{gid}"), 404)
    assert members(admin)["second.user"]["role"] == "member"
    assert members(admin)["second.user"]["disabled"] is False
    assert total(ok(okta.get("/Groups?startIndex=1&count=100"), 200)) == 0
