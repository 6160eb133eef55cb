"""The Scope builder page: catalog search, lint lines, the URL preview and saved sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.context import AppContext
from dashboard.installs import scope_sets
from dashboard.scopes.catalog import ScopeSet
from tests.utils.lifecycle import ADMIN
from tests.utils.pages import frame_with, messages

OpenPage = Callable[..., AppTest]
SCOPES = "pages/scopes.py"


def test_catalog_search_and_groups(open_page: OpenPage) -> None:
    at = open_page(SCOPES)
    catalog = frame_with(at, "scope", "group", "description", "tier", "sensitive")
    assert len(catalog) > 100
    at.text_input(key="sb_search").input("contacts sensitive").run()
    hits = frame_with(at, "scope", "group", "description", "tier", "sensitive")
    assert 0 < len(hits) < 20 and all("contacts" in s for s in hits["scope"])
    assert hits["sensitive"].any()
    group = hits["group"].iloc[0]
    at.text_input(key="sb_search").input("").run()
    at.multiselect(key="sb_groups").select(group).run()
    assert set(frame_with(at, "scope", "group", "tier")["group"]) == {group}


def test_lint_lines_follow_the_pickers(open_page: OpenPage) -> None:
    at = open_page(SCOPES)
    assert at.multiselect(key="sb_required").value == ["oauth"]
    assert any("No lint findings" in m for m in messages(at, "success"))

    at.multiselect(key="sb_required").select("contacts").run()
    assert any("(legacy_contacts)" in m for m in messages(at, "warning"))
    at.multiselect(key="sb_optional").select("crm.objects.contacts.sensitive.read").run()
    assert any("Sensitive Data scope" in m for m in messages(at, "warning"))
    at.multiselect(key="sb_conditional").select("cms.functions.read").run()
    assert any("(tier_gated_required)" in m for m in messages(at, "warning"))

    at.multiselect(key="sb_required").unselect("oauth").unselect("contacts").run()
    at.multiselect(key="sb_conditional").unselect("cms.functions.read").run()
    errors = messages(at, "error")
    assert any("(empty_scope)" in m for m in errors)
    assert any("requires at least one required scope" in m or "needs at least one scope" in m for m in errors)
    assert not at.exception


def test_url_preview_parameter_table_and_account_variant(open_page: OpenPage, ctx: AppContext) -> None:
    at = open_page(SCOPES)
    at.multiselect(key="sb_required").select("crm.objects.contacts.read").run()
    at.multiselect(key="sb_optional").select("automation").run()
    url = at.code[0].value
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth/authorize" and url.startswith(ctx.app.app_base_url)
    assert query == {"client_id": [ctx.app.client_id], "redirect_uri": [ctx.app.redirect_uri],
                     "scope": ["crm.objects.contacts.read oauth"], "optional_scope": ["automation"],
                     "state": ["STATE"]}
    assert "%20" in url and "redirect_uri=http%3A%2F%2Flocalhost%3A8501%2Finstall" in url
    params = frame_with(at, "parameter", "decoded value").set_index("parameter")["decoded value"]
    assert params["scope"] == "crm.objects.contacts.read oauth" and params["state"] == "STATE"

    at.text_input(key="sb_account").input("1000002").run()
    assert urlsplit(at.code[1].value).path == "/oauth/1000002/authorize"
    at.text_input(key="sb_account").input("-5").run()
    assert any("account id must be a positive whole number" in m for m in messages(at, "error"))


def test_save_load_compare_and_delete_sets(open_page: OpenPage, ctx: AppContext) -> None:
    scope_sets.save_scope_set(ctx, "Old", ScopeSet.from_lists(required=["oauth", "tickets"],
                                                              optional=["automation"]), actor=ADMIN)
    at = open_page(SCOPES)
    at.multiselect(key="sb_required").select("crm.objects.contacts.read").run()
    at.multiselect(key="sb_optional").select("tickets").run()
    at.text_input(key="sb_name").input("  New   set ").run()
    at.button(key="sb_save").click().run()
    assert not at.exception
    assert "Saved scope set New set." in messages(at, "success")
    saved = scope_sets.load_scope_set(ctx, "New set", actor=ADMIN)
    assert saved.required == ("crm.objects.contacts.read", "oauth") and saved.optional == ("tickets",)

    diff = "\n".join(md.value for md in at.markdown)
    assert "From **New set** to **Old**" in diff
    assert "moved `tickets`: optional → required" in diff
    assert "added to optional: `automation`" in diff

    at.selectbox(key="sb_saved").select("Old").run()
    at.button(key="sb_load").click().run()
    assert at.multiselect(key="sb_required").value == ["oauth", "tickets"]
    assert at.multiselect(key="sb_optional").value == ["automation"]
    assert "Loaded scope set Old." in messages(at, "success")

    at.button(key="sb_delete").click().run()
    assert "Deleted scope set Old." in messages(at, "success")
    assert list(scope_sets.list_scope_sets(ctx, actor=ADMIN)) == ["New set"]


@pytest.fixture
def app_scopes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app-scopes.json"
    path.write_text(json.dumps({"required": ["oauth", "crm.objects.contacts.read"], "optional": ["automation"]}))
    monkeypatch.setenv("HUBSPOT_APP_SCOPES_FILE", str(path))
    return path


def test_lint_uses_the_apps_scope_settings(app_scopes_file: Path, open_page: OpenPage) -> None:
    at = open_page(SCOPES)
    assert any("(missing_required)" in m for m in messages(at, "error"))  # contacts.read is required there
    at.multiselect(key="sb_required").select("crm.objects.contacts.read").select("automation").run()
    assert any("(bucket_mismatch)" in m for m in messages(at, "error"))
    at.multiselect(key="sb_required").unselect("automation").run()
    at.multiselect(key="sb_optional").select("tickets").run()
    assert any("(not_in_app)" in m and "tickets" in m for m in messages(at, "error"))


def test_enter_adds_exactly_the_typed_scope_or_nothing(open_page: OpenPage) -> None:
    at = open_page(SCOPES)
    at.text_input(key="sb_add_required").input("crm.objects.contact.read").run()  # a typo
    assert at.multiselect(key="sb_required").value == ["oauth"]
    assert any("nothing was added" in m and "crm.objects.contacts.read" in m.replace("\\", "")
               for m in messages(at, "error"))
    at.text_input(key="sb_add_required").input("crm.objects.con").run()  # a prefix of several scopes
    assert at.multiselect(key="sb_required").value == ["oauth"]
    at.text_input(key="sb_add_optional").input(" Tickets ").run()
    assert at.multiselect(key="sb_optional").value == ["tickets"]
    assert not any("nothing was added" in m for m in messages(at, "error"))
    at.text_input(key="sb_add_required").input("[x](https://evil.example)").run()
    # Shown as typed (messages() gives the text a reader sees), not as a link.
    assert any("[x](https://evil.example)" in m for m in messages(at, "error"))
    assert not any("[x](https" in str(e.value) for e in at.error)  # the Markdown source has it escaped


def test_a_shared_link_and_imported_json_fill_the_pickers(open_page: OpenPage) -> None:
    at = open_page(SCOPES, required="oauth tickets", optional="automation")
    assert at.multiselect(key="sb_required").value == ["oauth", "tickets"]
    assert at.multiselect(key="sb_optional").value == ["automation"]
    at.text_area(key="sb_import_json").input('{"required": ["oauth", "files"], "optional": []}').run()
    at.button(key="sb_import").click().run()
    assert at.multiselect(key="sb_required").value == ["files", "oauth"]
    assert at.multiselect(key="sb_optional").value == []
    at.text_area(key="sb_import_json").input('{"scopes": []}').run()
    at.button(key="sb_import").click().run()
    assert any("Not imported" in m for m in messages(at, "error"))
