"""The New install page: creating a link, and the OAuth callback completing against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from streamlit.testing.v1 import AppTest

from dashboard.connections import activity
from dashboard.connections import service as connections
from dashboard.context import AppContext
from dashboard.installs import flow as install
from dashboard.installs import scope_sets
from dashboard.sandbox import SandboxServer
from dashboard.scopes.catalog import ScopeSet
from tests.utils.lifecycle import ADMIN, grant
from tests.utils.pages import GATED_OPTIONAL, GLOBEX, INITECH, frame_with, messages

OpenPage = Callable[..., AppTest]
INSTALL = "pages/install.py"


def callback_params(ctx: AppContext, sandbox: SandboxServer, account_id: int, *, decision: str = "grant",
                    optional: tuple[str, ...] = ()) -> dict[str, str]:
    """Where HubSpot would send the browser after the consent screen, as query parameters."""
    start = install.start_install(ctx, actor=ADMIN, scopes=["oauth", "crm.objects.contacts.read"],
                                  optional_scopes=optional)
    return install.callback_params(grant(sandbox.url, start.url, account_id=account_id, decision=decision))


def test_create_install_link_from_typed_scopes(open_page: OpenPage, ctx: AppContext) -> None:
    at = open_page(INSTALL)
    assert at.text_area(key="install_scopes").value == "oauth"
    at.text_area(key="install_scopes").input("oauth, crm.objects.contacts.read").run()
    at.text_area(key="install_optional").input(GATED_OPTIONAL).run()
    at.text_input(key="install_account").input(str(GLOBEX)).run()
    at.button(key="install_create").click().run()
    assert not at.exception
    assert any(m.startswith("Install link created.") for m in messages(at, "success"))
    link = next(b for b in at.get("link_button") if b.proto.label == "Connect a HubSpot account")
    url = link.proto.url
    assert at.code[0].value == url
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/oauth/{GLOBEX}/authorize"
    assert query["scope"] == ["crm.objects.contacts.read oauth"]
    assert query["optional_scope"] == [GATED_OPTIONAL]
    assert query["redirect_uri"] == ["http://localhost:8501/install"]
    assert len(query["state"][0]) >= 40
    starts = activity.audit_events(ctx, action="install.start", actor=ADMIN)
    assert len(starts) == 1 and starts[0].actor == "local-admin"


def test_bad_input_is_a_clear_error(open_page: OpenPage) -> None:
    at = open_page(INSTALL)
    at.text_input(key="install_account").input("12ab").run()
    assert not at.exception
    assert any("account id must be a positive whole number" in m for m in messages(at, "error"))
    assert at.button(key="install_create").disabled
    at.text_input(key="install_account").input("").run()
    at.text_area(key="install_scopes").input('oauth "quoted"').run()
    assert not at.exception
    assert any("is not a scope name" in m for m in messages(at, "error"))
    assert at.button(key="install_create").disabled
    assert not at.get("link_button")


def test_error_level_lint_findings_refuse_the_link(open_page: OpenPage) -> None:
    at = open_page(INSTALL)
    at.text_area(key="install_scopes").input("oauth tickets").run()
    at.text_area(key="install_optional").input("tickets").run()  # one scope in two buckets
    assert any("(" in m for m in messages(at, "error"))
    assert at.button(key="install_create").disabled
    at.text_area(key="install_optional").input("").run()
    assert not at.button(key="install_create").disabled


def test_reinstall_preview_lists_the_scopes_a_connected_portal_would_lose(
        open_page: OpenPage, ctx: AppContext) -> None:
    from dashboard import repository
    from dashboard.models import Portal

    with ctx.session() as session:
        repository.save_portal(session=session, portal=Portal(
            hub_id=4242, hub_domain="wayne.hubspot.com", granted_scopes="oauth tickets files automation"))
        session.commit()
    at = open_page(INSTALL)
    at.text_area(key="install_scopes").input("oauth tickets crm.objects.contacts.read").run()
    assert any("4242" in m for m in messages(at, "warning"))  # a general link: portals that would lose scopes
    at.text_input(key="install_account").input("4242").run()
    preview = frame_with(at, "change", "scope")
    assert sorted(preview[preview["change"] == "loses"]["scope"]) == ["automation", "files"]
    assert list(preview[preview["change"] == "gains"]["scope"]) == ["crm.objects.contacts.read"]
    assert at.button(key="install_create").disabled
    at.checkbox(key="install_accept_loss").check().run()
    assert not at.button(key="install_create").disabled


def test_saved_scope_set_fills_the_fields(open_page: OpenPage, ctx: AppContext) -> None:
    scope_sets.save_scope_set(ctx, "CRM", ScopeSet.from_lists(required=["oauth", "crm.objects.contacts.read"],
                                                              optional=["automation"]), actor=ADMIN)
    at = open_page(INSTALL)
    at.selectbox(key="install_set").select("CRM").run()
    assert at.text_area(key="install_scopes").value == "crm.objects.contacts.read oauth"
    assert at.text_area(key="install_optional").value == "automation"


def test_callback_completes_the_install_once_and_clears_the_query(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer) -> None:
    params = callback_params(ctx, sandbox, INITECH, optional=(GATED_OPTIONAL,))
    at = open_page(INSTALL, **params)
    assert not at.exception
    assert messages(at, "error") == []
    assert any(m.startswith(f"Installed hub {INITECH} (initech.hubspot.com)") for m in messages(at, "success"))
    assert any(GATED_OPTIONAL in md.value for md in at.markdown)
    assert dict(at.query_params) == {}
    assert connections.get_connection(ctx, INITECH, actor=ADMIN).status == "healthy"

    at.run()  # a rerun (or the same redirect again) must not send the code to HubSpot twice
    assert not at.exception and messages(at, "error") == []
    assert any(m.startswith(f"Installed hub {INITECH}") for m in messages(at, "success"))
    assert len(activity.audit_events(ctx, action="install", actor=ADMIN)) == 1

    at.button(key="install_dismiss").click().run()
    assert not any(m.startswith("Installed hub") for m in messages(at, "success"))


def test_reinstall_shows_the_scope_change_and_dropped_optional_scopes(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer) -> None:
    install.finish_install(ctx, actor=ADMIN, params=callback_params(ctx, sandbox, GLOBEX))
    at = open_page(INSTALL, **callback_params(ctx, sandbox, GLOBEX, optional=(GATED_OPTIONAL,)))
    assert any(m.startswith(f"Reinstalled hub {GLOBEX}") for m in messages(at, "success"))
    assert any(GATED_OPTIONAL in m for m in messages(at, "warning"))  # globex's tier cannot grant it
    assert any("Scope change since the previous install" in m for m in messages(at, "info"))


def test_denied_consent_and_replayed_callback_are_clear_errors(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer) -> None:
    at = open_page(INSTALL, **callback_params(ctx, sandbox, GLOBEX, decision="deny"))
    assert not at.exception
    assert any("HubSpot did not grant access" in m for m in messages(at, "error"))
    assert dict(at.query_params) == {}

    used = callback_params(ctx, sandbox, GLOBEX)
    install.finish_install(ctx, actor=ADMIN, params=used)
    at = open_page(INSTALL, **used)  # the same redirect opened again, in a new session
    assert not at.exception
    assert any("already used" in m for m in messages(at, "error"))


def test_callback_without_state_is_refused(open_page: OpenPage) -> None:
    at = open_page(INSTALL, code="a-code-from-somewhere")
    assert not at.exception
    assert any("has no state" in m for m in messages(at, "error"))
    assert dict(at.query_params) == {}


def test_back_from_consent_no_warning_about_the_form_just_left(
        open_page: OpenPage, ctx: AppContext, sandbox: SandboxServer) -> None:
    """Back from HubSpot (a new session, the form at its defaults), the page shows the result; it does not warn
    that "this link" would take scopes from connected portals (issue 28) until the user edits the form."""
    install.finish_install(ctx, actor=ADMIN, params=callback_params(ctx, sandbox, GLOBEX))  # has contacts.read
    at = open_page(INSTALL, **callback_params(ctx, sandbox, INITECH))
    assert any(m.startswith(f"Installed hub {INITECH}") for m in messages(at, "success"))
    assert not [m for m in messages(at, "warning") if "does not ask for" in m]
    at.text_area(key="install_scopes").input("oauth tickets").run()  # now building a new link
    assert any("does not ask for" in m for m in messages(at, "warning"))
