"""SCIM 2.0 (RFC 7643/7644) over real HTTPS with Python requests, against the contract in
plans/scim.md: the discovery endpoints; Users created, read, replaced, patched, listed and
deleted with every documented attribute checked (and what the admin API then shows);
userName uniqueness whatever its case, across organisations and against the operator;
filters (eq ne co sw ew pr, gt ge lt le on meta.lastModified, and/or/not/parentheses,
attribute names in any case), paging with startIndex/count/totalResults, invalidFilter;
PATCH all-or-nothing; ETag and If-Match (412); the error body and the
application/scim+json content type; Groups with members added and removed by value path;
groups mapped to roles through PUT /api/admin/scim (never demoting the last active
owner); tenancy (another organisation's ids are 404, its names filter to nothing, the
operator is invisible); and every credential but the SCIM key refused with 401.

The SCIM key is created by an owner (`POST /api/admin/scim-key`) and sent as
`Authorization: Bearer <key>`, as an identity provider does. Helpers here (`Scim`,
`scim_key`, `user_body`, `members`) are shared by test_scim_idp.py,
test_scim_deprovision.py and test_scim_compliance.py.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import requests

from harness import assert_error, login, login_ok, record_secret, session
from test_orgs import Member, curl, two_orgs

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
VERSION_RE = re.compile(r'W/"[^"]+"')


# --------------------------------------------------------------------------- helpers

class Scim:
    """An identity provider's view of /scim/v2: the organisation's SCIM key as a Bearer
    token. Every answer with a body is checked to be application/scim+json."""

    def __init__(self, server, key: str, content_type: str = SCIM_JSON, user_agent: str | None = None):
        self.server = server
        self.key = key
        self.base = server.url("/scim/v2")
        self.content_type = content_type
        self.s = session()
        self.s.headers.update({"Authorization": f"Bearer {key}", "Accept": SCIM_JSON})
        if user_agent:
            self.s.headers["User-Agent"] = user_agent

    def url(self, path: str) -> str:
        return self.base + path

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                params: dict | None = None, raw_body: str | None = None) -> requests.Response:
        h = dict(headers or {})
        data = raw_body
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            h.setdefault("Content-Type", self.content_type)
        r = self.s.request(method, self.url(path), data=data, headers=h, params=params, timeout=30)
        assert_scim_content_type(r)
        return r

    def get(self, path: str, **params) -> requests.Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body, **kw) -> requests.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body, **kw) -> requests.Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, *ops: dict, **kw) -> requests.Response:
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(ops)}, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    # -- the common cases, checked ------------------------------------------------
    def create_user(self, user_name: str, **overrides) -> dict:
        r = self.post("/Users", user_body(user_name, **overrides))
        assert r.status_code == 201, (user_name, r.status_code, r.text)
        return r.json()

    def create_group(self, name: str, member_ids: list[str] = (), **extra) -> dict:
        body = {"schemas": [GROUP_SCHEMA], "displayName": name,
                "members": [{"value": i} for i in member_ids], **extra}
        r = self.post("/Groups", body)
        assert r.status_code == 201, (name, r.status_code, r.text)
        return r.json()

    def fetch(self, path: str) -> dict:
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def patch_ok(self, path: str, *ops: dict, **kw) -> dict:
        """PATCH that must succeed; returns the resource (a 204 is followed by a GET)."""
        r = self.patch(path, *ops, **kw)
        assert r.status_code in (200, 204), (path, ops, r.status_code, r.text)
        if r.status_code == 204:
            assert not r.content, r.text
            return self.fetch(path)
        return r.json()

    def list(self, path: str, **params) -> dict:
        r = self.get(path, **params)
        assert r.status_code == 200, (path, params, r.status_code, r.text)
        body = r.json()
        assert body["schemas"] == [LIST_RESPONSE], body
        assert isinstance(body["totalResults"], int), body
        resources = body.get("Resources", [])
        assert isinstance(resources, list), body
        return body

    def found(self, path: str, filter: str, **params) -> list[dict]:
        body = self.list(path, filter=filter, **params)
        return body.get("Resources", [])

    def user_names(self, filter: str) -> set[str]:
        found = self.found("/Users", filter, count="200")
        names = [u["userName"] for u in found]
        assert len(names) == len(set(names)), f"duplicates for {filter!r}: {names}"
        return set(names)


def assert_scim_content_type(r: requests.Response) -> None:
    if r.status_code == 204 or (r.status_code == 304 and not r.content):
        return
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == SCIM_JSON, (
        f"{r.request.method} {r.url} answered {r.status_code} with Content-Type {ctype!r}: {r.text[:300]}")


def assert_scim_error(r: requests.Response, status: int, scim_type: str | None = None) -> dict:
    """The RFC 7644 §3.12 error body: schemas, status as a string, scimType, detail."""
    assert r.status_code == status, (r.status_code, r.text)
    assert_scim_content_type(r)
    body = r.json()
    assert body.get("schemas") == [ERROR], body
    assert body.get("status") == str(status), f"status must be the string {str(status)!r}: {body}"
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    return body


def scim_key(owner: Member) -> dict:
    """A fresh SCIM key for the owner's organisation (the previous one stops)."""
    r = owner.post("/api/admin/scim-key")
    assert r.status_code == 201, r.text
    body = r.json()
    record_secret(body["key"])
    return body


def scim_for(owner: Member) -> Scim:
    return Scim(owner.server, scim_key(owner)["key"])


def user_body(user_name: str, *, given: str = "Test", family: str = "User", email: str | None = None,
              external_id: str | None = None, display: str | None = None, active: bool = True) -> dict:
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
        "displayName": display or f"{given} {family}",
        "emails": [{"value": email or f"{user_name.lower()}@example.org", "type": "work", "primary": True}],
        "active": active,
    }
    if external_id is not None:
        body["externalId"] = external_id
    return body


def members(viewer: Member) -> dict[str, dict]:
    """The organisation's members as the admin API lists them, by username."""
    r = viewer.get("/api/admin/members", params={"limit": "200"})
    assert r.status_code == 200, r.text
    return {m["username"]: m for m in r.json()}


def role_of(viewer: Member, username: str) -> str:
    return members(viewer)[username]["role"]


def put_role_mappings(owner: Member, mappings: list[dict]) -> requests.Response:
    return owner.s.put(owner.server.url("/api/admin/scim/role-mappings"), json={"role_mappings": mappings}, timeout=30)


def audit(viewer: Member, action: str) -> list[dict]:
    r = viewer.get("/api/admin/audit", params={"action": action, "limit": "200"})
    assert r.status_code == 200, r.text
    return r.json()


def subject(record: dict) -> str | None:
    """The username an audit record is about (None for a refused attempt on nobody)."""
    return (record.get("subject") or {}).get("username")


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def member_ids(group: dict) -> set[str]:
    return {m["value"] for m in group.get("members", [])}


# --------------------------------------------------------------------------- discovery

def test_the_discovery_endpoints_describe_what_is_supported(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])

    spc = scim.fetch("/ServiceProviderConfig")
    assert spc["schemas"] == [SPC_SCHEMA], spc
    assert spc["patch"]["supported"] is True
    assert spc["bulk"]["supported"] is False
    assert spc["filter"] == {"supported": True, "maxResults": 200} or (
        spc["filter"]["supported"] is True and spc["filter"]["maxResults"] == 200), spc["filter"]
    assert spc["changePassword"]["supported"] is False
    assert spc["sort"]["supported"] is False
    assert spc["etag"]["supported"] is True
    schemes = spc["authenticationSchemes"]
    assert schemes and any(s["type"] == "oauthbearertoken" for s in schemes), schemes
    assert all(s.get("name") and s.get("description") for s in schemes), schemes

    types = scim.list("/ResourceTypes")
    assert types["totalResults"] == 2, types
    by_id = {t["id"]: t for t in types["Resources"]}
    assert set(by_id) == {"User", "Group"}, by_id
    for rid, endpoint, schema in (("User", "/Users", USER_SCHEMA), ("Group", "/Groups", GROUP_SCHEMA)):
        t = by_id[rid]
        assert t["schemas"] == [RESOURCE_TYPE_SCHEMA], t
        assert (t["name"], t["endpoint"], t["schema"]) == (rid, endpoint, schema), t
        assert t["meta"]["resourceType"] == "ResourceType", t
        assert t["meta"]["location"] == scim.url(f"/ResourceTypes/{rid}"), t
        assert scim.fetch(f"/ResourceTypes/{rid}") == t
    assert_scim_error(scim.get("/ResourceTypes/Printer"), 404)

    schemas = scim.list("/Schemas")
    ids = {s["id"] for s in schemas["Resources"]}
    assert {USER_SCHEMA, GROUP_SCHEMA} <= ids, ids
    user = scim.fetch(f"/Schemas/{USER_SCHEMA}")
    assert user["schemas"] == [SCHEMA_SCHEMA] and user["id"] == USER_SCHEMA, user
    assert user["meta"]["location"] == scim.url(f"/Schemas/{USER_SCHEMA}"), user
    attrs = {a["name"]: a for a in user["attributes"]}
    assert {"userName", "name", "displayName", "emails", "active", "groups"} <= set(attrs), sorted(attrs)
    assert attrs["userName"]["type"] == "string"
    assert attrs["userName"]["required"] is True
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["userName"]["caseExact"] is False
    assert attrs["groups"]["mutability"] == "readOnly"
    assert attrs["emails"]["multiValued"] is True
    assert {"givenName", "familyName", "formatted"} <= {s["name"] for s in attrs["name"]["subAttributes"]}
    assert attrs["active"]["type"] == "boolean"
    group = scim.fetch(f"/Schemas/{GROUP_SCHEMA}")
    gattrs = {a["name"]: a for a in group["attributes"]}
    assert gattrs["displayName"]["required"] is True
    assert gattrs["members"]["multiValued"] is True
    assert {"value", "$ref", "display"} <= {s["name"] for s in gattrs["members"]["subAttributes"]}
    assert_scim_error(scim.get("/Schemas/urn:example:nothing"), 404)

    # What is not offered says so with a SCIM error, never a plain 200 or an HTML page.
    for path in ("/.search", "/Bulk"):
        r = scim.post(path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
        assert r.status_code == 501, (path, r.status_code, r.text)
        assert_scim_error(r, 501)
    assert_scim_error(scim.get("/Me"), 501)
    assert_scim_error(scim.get("/Printers"), 404)
    # POST .search is a list with its parameters in the body.
    for path in ("/Users/.search", "/Groups/.search"):
        r = scim.post(path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                             "filter": 'id eq "nobody"', "startIndex": 1, "count": 5, "attributes": ["id"]})
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.json()["totalResults"] == 0 and r.json()["Resources"] == []


# --------------------------------------------------------------------------- users

def test_a_user_goes_through_create_read_replace_patch_and_delete(server):
    a, _ = two_orgs(server)
    owner = a["owner"]
    scim = scim_for(owner)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)

    body = user_body("Carol.Jones", given="Carol", family="Jones", email="carol@acme.example",
                     external_id="idp-0001", display="Carol Jones")
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    u = r.json()
    uid = u["id"]
    assert isinstance(uid, str) and uid, u
    assert USER_SCHEMA in u["schemas"], u
    assert u["userName"] == "carol.jones", "stored lowercase"
    assert u["externalId"] == "idp-0001"
    assert u["name"] == {"givenName": "Carol", "familyName": "Jones", "formatted": "Carol Jones"}, u["name"]
    assert u["displayName"] == "Carol Jones"
    assert u["emails"] == [{"value": "carol@acme.example", "type": "work", "primary": True}], u["emails"]
    assert u["active"] is True
    assert u.get("groups", []) == []
    assert "password" not in u
    meta = u["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == scim.url(f"/Users/{uid}")
    assert VERSION_RE.fullmatch(meta["version"]), meta
    assert before <= when(meta["created"]) <= when(meta["lastModified"]) <= datetime.now(timezone.utc) + timedelta(
        seconds=5), meta
    assert r.headers["Location"] == meta["location"]
    assert r.headers["ETag"] == meta["version"]

    # The new member joins the key's organisation as a member, with no password.
    m = members(owner)["carol.jones"]
    assert (m["email"], m["display_name"], m["role"]) == ("carol@acme.example", "Carol Jones", "member"), m
    assert m["password_set"] is False and m["disabled"] is False, m
    assert login(server, "carol.jones", "").status in (400, 401, 422)

    r = scim.get(f"/Users/{uid}")
    assert r.status_code == 200 and r.json() == u, r.text
    assert r.headers["ETag"] == meta["version"]

    # attributes / excludedAttributes (names in any case).
    part = scim.fetch(f"/Users/{uid}?attributes=userName,name.givenName")
    assert part["id"] == uid and part["userName"] == "carol.jones", part
    assert part["name"] == {"givenName": "Carol"}, part
    assert not {"emails", "displayName", "externalId", "active"} & part.keys(), part
    part = scim.fetch(f"/Users/{uid}?excludedAttributes=EMAILS,name")
    assert "emails" not in part and "name" not in part, part
    assert part["userName"] == "carol.jones" and part["displayName"] == "Carol Jones" and part["id"] == uid
    listed = scim.found("/Users", 'userName eq "carol.jones"', attributes="displayName")
    assert len(listed) == 1 and listed[0]["id"] == uid and listed[0]["displayName"] == "Carol Jones", listed
    assert "emails" not in listed[0] and "name" not in listed[0], listed

    # PUT replaces every attribute it is given; the id and created stay.
    time.sleep(1.1)
    replaced = dict(body, userName="CAROL.JONES", externalId="idp-0001b", displayName="Carol J. Jones",
                    name={"givenName": "Caroline", "familyName": "Jones", "formatted": "Caroline Jones"},
                    emails=[{"value": "caroline@acme.example", "type": "work", "primary": True}])
    r = scim.put(f"/Users/{uid}", replaced)
    assert r.status_code == 200, r.text
    u2 = r.json()
    assert u2["id"] == uid and u2["userName"] == "carol.jones"
    assert u2["externalId"] == "idp-0001b" and u2["displayName"] == "Carol J. Jones"
    assert u2["name"] == {"givenName": "Caroline", "familyName": "Jones", "formatted": "Caroline Jones"}
    assert u2["emails"] == [{"value": "caroline@acme.example", "type": "work", "primary": True}]
    assert u2["meta"]["created"] == meta["created"]
    assert when(u2["meta"]["lastModified"]) > when(meta["lastModified"]), (meta, u2["meta"])
    assert u2["meta"]["version"] != meta["version"] and r.headers["ETag"] == u2["meta"]["version"]
    m = members(owner)["carol.jones"]
    assert (m["email"], m["display_name"]) == ("caroline@acme.example", "Carol J. Jones"), m

    # PATCH: add, replace, remove, a value filter in the path, and a replace with no path.
    u3 = scim.patch_ok(f"/Users/{uid}",
                       {"op": "replace", "path": "displayName", "value": "CJ"},
                       {"op": "add", "path": "name.givenName", "value": "Caro"},
                       {"op": "remove", "path": "externalId"},
                       {"op": "replace", "path": 'emails[type eq "work"].value', "value": "cj@acme.example"})
    assert u3["displayName"] == "CJ"
    assert u3["name"]["givenName"] == "Caro" and u3["name"]["familyName"] == "Jones", u3["name"]
    assert u3.get("externalId") is None, u3
    assert u3["emails"] == [{"value": "cj@acme.example", "type": "work", "primary": True}], u3["emails"]
    u4 = scim.patch_ok(f"/Users/{uid}", {"op": "replace", "value": {"displayName": "Carol",
                                                                      "name": {"familyName": "Jones-Smith"}}})
    assert u4["displayName"] == "Carol"
    assert u4["name"]["familyName"] == "Jones-Smith" and u4["name"]["givenName"] == "Caro", u4["name"]
    assert scim.fetch(f"/Users/{uid}") == u4
    m = members(owner)["carol.jones"]
    assert (m["email"], m["display_name"]) == ("cj@acme.example", "Carol"), m

    # active false disables the account; true enables it again.
    assert scim.patch_ok(f"/Users/{uid}", {"op": "replace", "path": "active", "value": False})["active"] is False
    assert members(owner)["carol.jones"]["disabled"] is True
    assert scim.patch_ok(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True})["active"] is True
    assert members(owner)["carol.jones"]["disabled"] is False

    # DELETE: gone from SCIM, the account disabled, the username still taken.
    r = scim.delete(f"/Users/{uid}")
    assert r.status_code == 204 and not r.content, r.text
    assert_scim_error(scim.get(f"/Users/{uid}"), 404)
    assert scim.user_names('userName eq "carol.jones"') == set()
    assert_scim_error(scim.delete(f"/Users/{uid}"), 404)
    assert_scim_error(scim.put(f"/Users/{uid}", replaced), 404)
    assert_scim_error(scim.patch(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True}), 404)
    m = members(owner)["carol.jones"]
    assert m["disabled"] is True, m
    assert_scim_error(scim.post("/Users", user_body("carol.jones")), 409, "uniqueness")

    # Every write was audited, by the SCIM key.
    key_id = next(k["id"] for k in owner.get("/api/admin/keys", params={"type": "scim"}).json())
    records = audit(owner, "scim.user.")
    actions = {e["action"] for e in records if subject(e) == "carol.jones"}
    assert {"scim.user.created", "scim.user.replaced", "scim.user.patched", "scim.user.deactivated",
            "scim.user.reactivated", "scim.user.deleted"} <= actions, actions
    for e in records:
        assert e["credential"] == {"kind": "api_key", "id": key_id}, e


def test_requests_may_be_application_json_too(server):
    a, _ = two_orgs(server)
    scim = Scim(server, scim_key(a["owner"])["key"], content_type="application/json")
    u = scim.create_user("plain.json")
    got = scim.patch_ok(f"/Users/{u['id']}", {"op": "replace", "path": "displayName", "value": "Plain"})
    assert got["displayName"] == "Plain"
    r = scim.post("/Users", raw_body="{not json", body=None)
    assert_scim_error(r, 400, "invalidSyntax")


def test_user_names_are_unique_whatever_their_case_and_must_follow_the_rule(server):
    a, b = two_orgs(server)
    scim = scim_for(a["owner"])
    scim.create_user("dup.user")
    count = scim.list("/Users", count="0")["totalResults"]

    body = assert_scim_error(scim.post("/Users", user_body("DUP.User")), 409, "uniqueness")
    assert "dup" in body["detail"].lower(), body
    assert_scim_error(scim.post("/Users", user_body("Owner-B")), 409, "uniqueness")  # another organisation's
    assert_scim_error(scim.post("/Users", user_body("admin")), 409, "uniqueness")  # the operator

    for bad in ["a", "a b", "-lead", ".lead", "_lead", "x" * 33, "al@ice.example", "ça", "", "tab\tname"]:
        assert_scim_error(scim.post("/Users", user_body(bad)), 400, "invalidValue")
    missing = user_body("nobody.here")
    del missing["userName"]
    assert_scim_error(scim.post("/Users", missing), 400, "invalidValue")
    assert scim.list("/Users", count="0")["totalResults"] == count, "nothing was created"

    # The rule's edges are accepted.
    assert scim.create_user("ab")["userName"] == "ab"
    assert scim.create_user("9" + "z" * 31)["userName"] == "9" + "z" * 31
    assert scim.create_user("A.b_c-D")["userName"] == "a.b_c-d"
    assert {"ab", "9" + "z" * 31, "a.b_c-d"} <= set(members(a["owner"]))


def test_filters_cover_every_operator_and_attribute_names_in_any_case(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])
    alpha = scim.create_user("flt.alpha", display="Alpha Tester", family="Ames", external_id="e-1")
    time.sleep(1.1)
    beta = scim.create_user("flt.beta", display="Beta Tester", family="Brown", external_id="e-2")
    time.sleep(1.1)
    gamma = scim.create_user("flt.gamma", display="Gamma", family="Green")
    scim.patch_ok(f"/Users/{gamma['id']}", {"op": "replace", "path": "active", "value": False})
    scim.create_user("other.delta", display="Delta Tester", family="Dunn")

    cases = {
        'userName eq "flt.alpha"': {"flt.alpha"},
        'userName eq "FLT.Alpha"': {"flt.alpha"},
        'USERNAME eq "flt.alpha"': {"flt.alpha"},
        'username EQ "flt.alpha"': {"flt.alpha"},
        'userName ne "flt.alpha" and userName sw "flt."': {"flt.beta", "flt.gamma"},
        'userName co "t.b"': {"flt.beta"},
        'userName sw "flt."': {"flt.alpha", "flt.beta", "flt.gamma"},
        'userName SW "FLT."': {"flt.alpha", "flt.beta", "flt.gamma"},
        'userName ew ".gamma"': {"flt.gamma"},
        'externalId pr and userName sw "flt."': {"flt.alpha", "flt.beta"},
        'externalId eq "e-2"': {"flt.beta"},
        'displayName co "Tester" and not (userName eq "other.delta")': {"flt.alpha", "flt.beta"},
        '(userName eq "flt.alpha" or userName eq "flt.gamma") and active eq true': {"flt.alpha"},
        'userName eq "flt.alpha" or userName eq "flt.beta" and active eq false': {"flt.alpha"},
        'active eq false and userName sw "flt."': {"flt.gamma"},
        'not (active eq true) and userName sw "flt."': {"flt.gamma"},
        'name.familyName eq "Brown"': {"flt.beta"},
        'NAME.FAMILYNAME eq "Brown"': {"flt.beta"},
        'userName eq "no.such.user"': set(),
        f'meta.lastModified gt "{alpha["meta"]["lastModified"]}" and userName sw "flt."': {"flt.beta", "flt.gamma"},
        f'meta.lastModified ge "{alpha["meta"]["lastModified"]}" and userName sw "flt."':
            {"flt.alpha", "flt.beta", "flt.gamma"},
        f'meta.lastModified lt "{beta["meta"]["lastModified"]}" and userName sw "flt."': {"flt.alpha"},
        f'meta.lastModified le "{beta["meta"]["lastModified"]}" and userName sw "flt."': {"flt.alpha", "flt.beta"},
    }
    wrong = {f: (got, want) for f, want in cases.items() if (got := scim.user_names(f)) != want}
    assert not wrong, wrong
    listed = scim.list("/Users", filter='userName sw "flt."')
    assert listed["totalResults"] == 3 and listed["startIndex"] == 1 and listed["itemsPerPage"] == 3, listed

    for bad in ['nosuchattribute eq "x"', 'userName zz "x"', 'userName eq', 'userName eq "unterminated',
                '(userName eq "x"', 'userName eq "x" and', 'emails[type eq "work"']:
        r = scim.get("/Users", filter=bad)
        assert_scim_error(r, 400, "invalidFilter")
    assert_scim_error(scim.get("/Groups", filter='nosuchattribute eq "x"'), 400, "invalidFilter")


def test_startindex_and_count_page_through_totalresults(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])
    made = {scim.create_user(f"pg{i:02d}")["id"] for i in range(1, 8)}
    f = 'userName sw "pg"'

    whole = scim.list("/Users", filter=f)
    assert (whole["totalResults"], whole["startIndex"], whole["itemsPerPage"]) == (7, 1, 7), whole
    assert {u["id"] for u in whole["Resources"]} == made

    seen: list[str] = []
    for start in (1, 4, 7):
        page = scim.list("/Users", filter=f, startIndex=str(start), count="3")
        got = [u["id"] for u in page.get("Resources", [])]
        assert page["totalResults"] == 7 and page["startIndex"] == start, page
        assert page["itemsPerPage"] == len(got) == (3 if start < 7 else 1), page
        seen += got
    assert len(seen) == 7 and set(seen) == made, seen

    none = scim.list("/Users", filter=f, count="0")
    assert none["totalResults"] == 7 and none.get("Resources", []) == [], none
    past = scim.list("/Users", filter=f, startIndex="8")
    assert past["totalResults"] == 7 and past.get("Resources", []) == [], past
    low = scim.list("/Users", filter=f, startIndex="0", count="3")
    assert low["startIndex"] == 1 and len(low["Resources"]) == 3, "a startIndex below 1 means 1"
    assert [u["id"] for u in low["Resources"]] == seen[:3]
    negative = scim.list("/Users", filter=f, count="-1")
    assert negative["totalResults"] == 7 and negative.get("Resources", []) == [], "a negative count means 0"
    big = scim.list("/Users", filter=f, count="1000")
    assert len(big["Resources"]) == 7 and big["itemsPerPage"] == 7, big

    groups = [scim.create_group(f"pg-group-{i}")["id"] for i in range(3)]
    page = scim.list("/Groups", filter='displayName sw "pg-group-"', startIndex="2", count="2")
    assert page["totalResults"] == 3 and page["itemsPerPage"] == 2 and page["startIndex"] == 2, page
    assert {g["id"] for g in page["Resources"]} <= set(groups)


def test_a_patch_whose_later_operation_fails_changes_nothing(server):
    a, _ = two_orgs(server)
    owner = a["owner"]
    scim = scim_for(owner)
    u = scim.create_user("atomic.one", display="Atomic One", given="Atom")
    path = f"/Users/{u['id']}"

    r = scim.patch(path, {"op": "replace", "path": "displayName", "value": "Changed"},
                   {"op": "replace", "path": "userName", "value": "Not Valid!"})
    assert_scim_error(r, 400, "invalidValue")
    for second in ({"op": "frobnicate", "path": "displayName", "value": "x"},
                   {"op": "replace", "path": 'emails[type eq "work"', "value": "x@acme.example"},
                   {"op": "remove"},
                   {"op": "replace", "path": "active", "value": "not a boolean"}):
        r = scim.patch(path, {"op": "add", "path": "name.givenName", "value": "Changed"},
                       {"op": "replace", "path": "active", "value": False}, second)
        assert r.status_code == 400, (second, r.status_code, r.text)
        assert_scim_error(r, 400)
    now = scim.fetch(path)
    assert now == u, "nothing of the refused PATCHes was applied"
    m = members(owner)["atomic.one"]
    assert m["display_name"] == "Atomic One" and m["disabled"] is False, m

    other = scim.create_user("atomic.two")
    g = scim.create_group("Atomic Group")
    r = scim.patch(f"/Groups/{g['id']}", {"op": "add", "path": "members", "value": [{"value": other["id"]}]},
                   {"op": "add", "path": "members", "value": [{"value": "no-such-user-id"}]})
    assert r.status_code in (400, 404), r.text
    assert_scim_error(r, r.status_code)
    assert member_ids(scim.fetch(f"/Groups/{g['id']}")) == set()
    assert scim.fetch(f"/Users/{other['id']}").get("groups", []) == []


def test_etags_guard_against_lost_updates(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])
    u = scim.create_user("etag.user", display="First")
    path = f"/Users/{u['id']}"
    v1 = u["meta"]["version"]
    r = scim.get(path)
    assert r.headers["ETag"] == v1 and VERSION_RE.fullmatch(v1), r.headers

    r = scim.patch(path, {"op": "replace", "path": "displayName", "value": "Second"}, headers={"If-Match": v1})
    assert r.status_code in (200, 204), r.text
    v2 = scim.get(path).headers["ETag"]
    assert v2 != v1 and scim.fetch(path)["meta"]["version"] == v2

    stale = user_body("etag.user", display="Lost update")
    assert_scim_error(scim.put(path, stale, headers={"If-Match": v1}), 412)
    assert_scim_error(scim.patch(path, {"op": "replace", "path": "displayName", "value": "Lost"},
                                 headers={"If-Match": v1}), 412)
    assert_scim_error(scim.delete(path, headers={"If-Match": v1}), 412)
    assert scim.fetch(path)["displayName"] == "Second"
    assert scim.get(path).headers["ETag"] == v2, "a refused write changes no version"

    r = scim.put(path, user_body("etag.user", display="Third"), headers={"If-Match": v2})
    assert r.status_code == 200 and r.json()["displayName"] == "Third", r.text
    v3 = r.headers["ETag"]
    assert v3 not in (v1, v2)
    assert scim.delete(path, headers={"If-Match": v3}).status_code == 204

    g = scim.create_group("Etag Group")
    gpath = f"/Groups/{g['id']}"
    assert scim.get(gpath).headers["ETag"] == g["meta"]["version"]
    assert scim.patch_ok(gpath, {"op": "replace", "path": "displayName", "value": "Etag Group 2"},
                         headers={"If-Match": g["meta"]["version"]})["displayName"] == "Etag Group 2"
    assert_scim_error(scim.patch(gpath, {"op": "replace", "path": "displayName", "value": "Lost"},
                                 headers={"If-Match": g["meta"]["version"]}), 412)
    assert scim.fetch(gpath)["displayName"] == "Etag Group 2"


def test_errors_have_the_scim_shape(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])
    body = assert_scim_error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
    assert "scimType" not in body or body["scimType"] in (None, ""), body
    assert_scim_error(scim.get("/Groups/00000000-0000-0000-0000-000000000000"), 404)
    scim.create_user("shape.user")
    assert_scim_error(scim.post("/Users", user_body("Shape.User")), 409, "uniqueness")
    assert_scim_error(scim.get("/Users", filter="userName eq"), 400, "invalidFilter")
    assert_scim_error(scim.post("/Users", None, raw_body='{"userName": '), 400, "invalidSyntax")
    assert_scim_error(scim.post("/Groups", {"schemas": [GROUP_SCHEMA]}), 400, "invalidValue")
    r = scim.request("GET", "/Users", headers={"Authorization": "Bearer nope"})
    assert_scim_error(r, 401)


# --------------------------------------------------------------------------- groups

def test_groups_crud_and_members_added_and_removed_by_value_path(server):
    a, _ = two_orgs(server)
    scim = scim_for(a["owner"])
    one, two = scim.create_user("grp.one", display="Group One"), scim.create_user("grp.two", display="Group Two")
    r = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "externalId": "g-eng",
                              "members": [{"value": one["id"]}]})
    assert r.status_code == 201, r.text
    g = r.json()
    gid = g["id"]
    assert g["schemas"] == [GROUP_SCHEMA] and g["displayName"] == "Engineering" and g["externalId"] == "g-eng", g
    assert len(g["members"]) == 1, g
    member = g["members"][0]
    assert member["value"] == one["id"] and member["$ref"] == scim.url(f"/Users/{one['id']}"), member
    assert member["display"] in ("grp.one", "Group One"), member
    assert g["meta"]["resourceType"] == "Group" and g["meta"]["location"] == scim.url(f"/Groups/{gid}"), g
    assert VERSION_RE.fullmatch(g["meta"]["version"]) and r.headers["ETag"] == g["meta"]["version"], g
    assert r.headers["Location"] == g["meta"]["location"]

    def groups_of(user: dict) -> list[dict]:
        return scim.fetch(f"/Users/{user['id']}").get("groups", [])

    [ug] = groups_of(one)
    assert (ug["value"], ug["$ref"], ug["display"]) == (gid, scim.url(f"/Groups/{gid}"), "Engineering"), ug
    assert groups_of(two) == []
    assert scim.fetch(f"/Groups/{gid}") == g
    assert [x["id"] for x in scim.found("/Groups", 'displayName eq "Engineering"')] == [gid]
    assert "members" not in scim.fetch(f"/Groups/{gid}?excludedAttributes=members")
    r = scim.put(f"/Users/{one['id']}", dict(user_body("grp.one", display="Group One"), groups=[]))
    assert r.status_code == 200, r.text
    assert [x["value"] for x in groups_of(one)] == [gid], "groups is read-only on a user"

    # PUT replaces the name and the members.
    r = scim.put(f"/Groups/{gid}", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering Team",
                                    "externalId": "g-eng", "members": [{"value": two["id"]}]})
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Engineering Team" and member_ids(r.json()) == {two["id"]}
    assert groups_of(one) == [] and [x["display"] for x in groups_of(two)] == ["Engineering Team"]

    # PATCH members: add (twice: no duplicate), remove by value path, replace, remove all.
    path = f"/Groups/{gid}"
    add_one = {"op": "add", "path": "members", "value": [{"value": one["id"]}]}
    assert member_ids(scim.patch_ok(path, add_one)) == {one["id"], two["id"]}
    again = scim.patch_ok(path, add_one)
    assert sorted(m["value"] for m in again["members"]) == sorted([one["id"], two["id"]]), again
    got = scim.patch_ok(path, {"op": "remove", "path": f'members[value eq "{two["id"]}"]'})
    assert member_ids(got) == {one["id"]}
    assert groups_of(two) == []
    got = scim.patch_ok(path, {"op": "replace", "path": "members", "value": [{"value": two["id"]}]},
                        {"op": "replace", "path": "displayName", "value": "Eng"})
    assert member_ids(got) == {two["id"]} and got["displayName"] == "Eng"
    scim.patch_ok(path, add_one)
    got = scim.patch_ok(path, {"op": "remove", "path": "members"})
    assert member_ids(got) == set()

    # DELETE: gone, and from its members' groups.
    scim.patch_ok(path, add_one)
    r = scim.delete(path)
    assert r.status_code == 204 and not r.content
    assert_scim_error(scim.get(path), 404)
    assert_scim_error(scim.delete(path), 404)
    assert groups_of(one) == []
    assert scim.found("/Groups", 'displayName eq "Eng"') == []

    assert_scim_error(scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "members": []}), 400, "invalidValue")
    audited = {e["action"] for e in audit(a["owner"], "scim.group.")}
    assert {"scim.group.created", "scim.group.replaced", "scim.group.patched", "scim.group.deleted"} <= audited


# --------------------------------------------------------------------------- roles

def test_mapped_groups_make_admins_and_removing_them_demotes(server):
    a, _ = two_orgs(server)
    owner, admin, member = a["owner"], a["admin"], a["member"]
    doc = owner.get("/api/admin/scim")
    assert doc.status_code == 200, doc.text
    doc = doc.json()
    assert doc["base_url"] == server.url("/scim/v2") and doc["key"] is None, doc
    assert doc["role_mappings"] == [] and doc["recent"] == [], doc
    assert member.get("/api/admin/scim").status_code == 403

    mappings = [{"group": "Gatehouse Admins", "role": "admin"}, {"group": "Gatehouse Owners", "role": "owner"}]
    r = put_role_mappings(owner, mappings)
    assert r.status_code == 200, r.text
    assert r.json()["role_mappings"] == mappings
    for bad in ([{"group": "X", "role": "boss"}], [{"group": "", "role": "admin"}]):
        assert_error(put_role_mappings(owner, bad), 422, "validation_failed")
    assert owner.get("/api/admin/scim").json()["role_mappings"] == mappings

    key = scim_key(owner)
    scim = Scim(server, key["key"])
    code, _ = curl(server, key["key"], "GET", "/api/admin/scim")
    assert code in (401, 403), "the SCIM key is for /scim/v2 only"
    r1, r2 = scim.create_user("role.one"), scim.create_user("role.two")
    admins = scim.create_group("Gatehouse Admins", [r1["id"]])
    assert role_of(admin, "role.one") == "admin" and role_of(admin, "role.two") == "member"
    scim.patch_ok(f"/Groups/{admins['id']}", {"op": "add", "path": "members", "value": [{"value": r2["id"]}]})
    assert role_of(admin, "role.two") == "admin"

    # The new role reaches the admin API at once: role.one's sign-in is an admin's.
    scim.patch_ok(f"/Groups/{admins['id']}", {"op": "remove", "path": f'members[value eq "{r1["id"]}"]'})
    assert role_of(admin, "role.one") == "member" and role_of(admin, "role.two") == "admin"

    # The highest mapped role wins; an unmapped name maps to nothing.
    owners = scim.create_group("Gatehouse Owners", [r2["id"]])
    assert role_of(admin, "role.two") == "owner"
    scim.patch_ok(f"/Groups/{owners['id']}", {"op": "replace", "path": "displayName", "value": "Former Owners"})
    assert role_of(admin, "role.two") == "admin"
    scim.patch_ok(f"/Groups/{admins['id']}", {"op": "replace", "path": "displayName", "value": "Not Mapped"})
    assert role_of(admin, "role.two") == "member"
    scim.patch_ok(f"/Groups/{admins['id']}", {"op": "replace", "path": "displayName", "value": "Gatehouse Admins"})
    assert role_of(admin, "role.two") == "admin"
    assert scim.delete(f"/Groups/{admins['id']}").status_code == 204
    assert role_of(admin, "role.two") == "member"
    assert role_of(admin, "owner-a") == "owner" and role_of(admin, "admin-a") == "admin", "others untouched"

    # The key's last use is recorded in the background, as for every key: wait for it.
    deadline = time.monotonic() + 15
    while not (doc := owner.get("/api/admin/scim").json())["key"]["last_used_at"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert doc["key"]["id"] == key["id"] and doc["key"]["last_used_at"], doc["key"]
    recent = doc["recent"]
    assert recent and all({"at", "action", "target", "result"} <= set(e) for e in recent), recent
    assert {"scim.user.created", "scim.group.created"} <= {e["action"] for e in recent}, recent
    changes = [e for e in audit(owner, "scim.role.changed") if subject(e) == "role.two"]
    assert len(changes) >= 6, changes


def test_the_last_active_owner_is_never_demoted_by_a_group_change(server):
    a, _ = two_orgs(server)
    owner, admin = a["owner"], a["admin"]
    assert put_role_mappings(owner, [{"group": "Gatehouse Owners", "role": "owner"}]).status_code == 200
    scim = scim_for(owner)
    boss = scim.create_user("scim.boss")
    owners = scim.create_group("Gatehouse Owners", [boss["id"]])
    assert role_of(admin, "scim.boss") == "owner"

    # The human owner steps down: the SCIM-provisioned owner is now the last active one.
    r = owner.post(f"/api/admin/members/{owner.id}/role", {"role": "member"})
    assert r.status_code == 200, r.text
    before = [e for e in audit(admin, "scim.role.") if subject(e) == "scim.boss"]
    got = scim.patch_ok(f"/Groups/{owners['id']}", {"op": "remove", "path": f'members[value eq "{boss["id"]}"]'})
    assert member_ids(got) == set(), "the membership change itself goes through"
    assert role_of(admin, "scim.boss") == "owner", "but the last active owner keeps the role"
    after = [e for e in audit(admin, "scim.role.") if subject(e) == "scim.boss"]
    assert len(after) > len(before), "the skipped change is audited"
    assert scim.delete(f"/Groups/{owners['id']}").status_code == 204
    assert role_of(admin, "scim.boss") == "owner"
    roles = [m["role"] for m in members(admin).values()]
    assert roles.count("owner") == 1, roles


# --------------------------------------------------------------------------- tenancy

def test_one_organisations_key_sees_nothing_of_another_and_never_the_operator(server):
    a, b = two_orgs(server)
    scim_a, scim_b = scim_for(a["owner"]), scim_for(b["owner"])
    b_user = scim_b.create_user("bob.b", display="Bob B")
    b_group = scim_b.create_group("B Team", [b_user["id"]])
    b_user, b_group = scim_b.fetch(f"/Users/{b_user['id']}"), scim_b.fetch(f"/Groups/{b_group['id']}")
    operator = login_ok(server, "admin", server.bootstrap_password).body["user"]["id"]

    for path in (f"/Users/{b_user['id']}", f"/Groups/{b_group['id']}", f"/Users/{operator}"):
        assert_scim_error(scim_a.get(path), 404)
        assert_scim_error(scim_a.delete(path), 404)
        assert_scim_error(scim_a.patch(path, {"op": "replace", "path": "displayName", "value": "pwned"}), 404)
    assert_scim_error(scim_a.put(f"/Users/{b_user['id']}", user_body("bob.b", display="pwned")), 404)
    assert_scim_error(scim_a.put(f"/Users/{operator}", user_body("admin", display="pwned")), 404)
    assert_scim_error(scim_a.put(f"/Groups/{b_group['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "pwned"}),
                      404)

    for f in ('userName eq "bob.b"', 'userName eq "owner-b"', 'userName eq "admin"', 'userName sw "bob"',
              'userName co "-b"', 'displayName eq "Bob B"'):
        assert scim_a.found("/Users", f) == [], f
    assert scim_a.found("/Groups", 'displayName eq "B Team"') == []
    everyone = scim_a.list("/Users", count="200")
    listed = {u["userName"] for u in everyone["Resources"]}
    assert not listed & {"bob.b", "owner-b", "admin-b", "mem-b", "admin"}, listed
    assert everyone["totalResults"] == len(everyone["Resources"]), everyone
    assert b_group["id"] not in {g["id"] for g in scim_a.list("/Groups", count="200").get("Resources", [])}

    # Another organisation's user (or the operator) cannot be made a member of A's group.
    mine = scim_a.create_group("A Team")
    for foreign in (b_user["id"], operator):
        r = scim_a.patch(f"/Groups/{mine['id']}", {"op": "add", "path": "members", "value": [{"value": foreign}]})
        assert r.status_code in (400, 404), r.text
        assert_scim_error(r, r.status_code)
        r = scim_a.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sneaky",
                                    "members": [{"value": foreign}]})
        assert r.status_code in (400, 404), r.text
    assert member_ids(scim_a.fetch(f"/Groups/{mine['id']}")) == set()
    assert scim_a.found("/Groups", 'displayName eq "Sneaky"') == []

    # B's resources are exactly as they were; the operator still signs in.
    assert scim_b.fetch(f"/Users/{b_user['id']}") == b_user
    assert scim_b.fetch(f"/Groups/{b_group['id']}") == b_group
    assert members(b["owner"])["bob.b"]["disabled"] is False
    login_ok(server, "admin", server.bootstrap_password)


def test_the_operators_own_organisation_key_never_shows_the_operator(server):
    op = Member(server, "admin", server.bootstrap_password)
    scim = scim_for(op)
    names = {u["userName"] for u in scim.list("/Users", count="200").get("Resources", [])}
    assert "admin" not in names, names
    assert scim.found("/Users", 'userName eq "admin"') == []
    assert_scim_error(scim.get(f"/Users/{op.id}"), 404)
    assert_scim_error(scim.patch(f"/Users/{op.id}", {"op": "replace", "path": "active", "value": False}), 404)
    assert_scim_error(scim.delete(f"/Users/{op.id}"), 404)
    assert_scim_error(scim.post("/Users", user_body("ADMIN")), 409, "uniqueness")
    helper = scim.create_user("default.member")
    assert helper["userName"] == "default.member"
    login_ok(server, "admin", server.bootstrap_password)


# --------------------------------------------------------------------------- authentication

def test_only_the_scim_key_as_a_bearer_token_opens_scim(server):
    a, _ = two_orgs(server)
    owner, member = a["owner"], a["member"]
    key = scim_key(owner)
    scim = Scim(server, key["key"])
    assert scim.list("/Users", count="1")["totalResults"] >= 0
    url = server.url("/scim/v2/Users")

    personal = record_secret(member.post("/api/api-keys", {"name": "laptop"}).json()["key"])
    r = owner.post("/api/tokens", {"expires_in_hours": 1})
    assert r.status_code == 201, r.text
    token = record_secret(r.json()["token"])
    cookie = login_ok(server, "owner-a", owner.password).cookie

    refused = {
        "no credential": {},
        "SCIM key as Basic": {"auth": (key["key"], "")},
        "personal API key as Bearer": {"headers": {"Authorization": f"Bearer {personal}"}},
        "personal API key as Basic": {"auth": (personal, "")},
        "owner's bearer token": {"headers": {"Authorization": f"Bearer {token}"}},
        "owner's cookie": {"headers": {"Cookie": f"cloud.sso={cookie}"}},
        "a made-up key": {"headers": {"Authorization": "Bearer gsk_" + "A" * 40}},
        "owner's password as Basic": {"auth": ("owner-a", owner.password)},
    }
    for label, kw in refused.items():
        r = session().get(url, timeout=30, **kw)
        assert_scim_error(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (label, r.headers)
    r = session().post(url, data=json.dumps(user_body("sneak.in")), timeout=30,
                       headers={"Cookie": f"cloud.sso={cookie}", "X-CSRF-Token": "x", "Content-Type": SCIM_JSON})
    assert_scim_error(r, 401)
    assert scim.found("/Users", 'userName eq "sneak.in"') == []

    # Outside /scim/v2 the SCIM key stays good for nothing (403).
    assert curl(server, key["key"], "GET", "/api/admin/org")[0] == 403
    assert session().get(server.url("/api/admin/members"), headers={"Authorization": f"Bearer {key['key']}"},
                         timeout=30).status_code in (401, 403)

    # A disabled, then regenerated, key stops at once.
    assert owner.post(f"/api/admin/keys/{key['id']}/disable").status_code == 200
    assert_scim_error(scim.get("/Users"), 401)
    assert owner.post(f"/api/admin/keys/{key['id']}/enable").status_code == 200
    assert scim.get("/Users").status_code == 200
    fresh = scim_key(owner)
    assert_scim_error(scim.get("/Users"), 401)
    assert Scim(server, fresh["key"]).get("/Users").status_code == 200
