"""The HTML pages HubSpot shows during an install: the consent screen and its error page.

Element ids are stable for browser tests: ``select#account`` (name ``account_id``), ``button#grant`` and
``button#cancel`` (name ``decision``, values ``grant`` / ``deny``), ``#scopes`` with one ``li[data-scope]``
per scope, and ``#error-message`` / ``[data-error-code]`` on the error page. Everything echoed is escaped.
"""

from __future__ import annotations

from html import escape

from .authorize import AuthorizeRequest
from .catalog import scope_catalog
from .config import SandboxAccount

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f8fa;color:#33475b;margin:0}
main{max-width:640px;margin:40px auto;background:#fff;border:1px solid #cbd6e2;border-radius:6px;padding:32px}
h1{font-size:22px;margin-top:0} h2{font-size:15px;margin:20px 0 6px;color:#516f90}
ul{padding-left:20px} li{margin:4px 0} code{background:#eaf0f6;padding:1px 4px;border-radius:3px}
.tag{font-size:12px;color:#7c98b6;margin-left:6px} select{width:100%;padding:8px;margin:6px 0 16px}
.actions{display:flex;gap:12px;margin-top:24px}
button{padding:10px 20px;border-radius:3px;border:1px solid #c93f1f;font-size:14px;cursor:pointer}
#grant{background:#c93f1f;color:#fff} #cancel{background:#fff;color:#c93f1f}
.error{border-color:#f2545b} #error-message{color:#f2545b}
"""


def _page(title: str, body: str, *, main_class: str = "") -> str:
    class_attr = f' class="{main_class}"' if main_class else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main{class_attr}>{body}</main></body></html>\n"
    )


def _account_label(account: SandboxAccount) -> str:
    return f"{account.name} — {account.domain} (hub {account.hub_id}, {account.tier})"


def _scope_list(request: AuthorizeRequest) -> str:
    catalog = scope_catalog()
    requested = [(name, False) for name in request.scope]
    requested += [(name, True) for name in request.optional_scope if name not in request.scope]
    groups: dict[str, list[str]] = {}
    for name, optional in requested:
        info = catalog.get(name)
        description = (info.description if info else None) or "No description available."
        tags = ""
        if optional:
            tags += '<span class="tag">optional</span>'
        if info is not None and info.sensitive:
            tags += '<span class="tag">sensitive data</span>'
        item = (
            f'<li data-scope="{escape(name)}" data-optional="{str(optional).lower()}">'
            f"<code>{escape(name)}</code> — {escape(description)}{tags}</li>"
        )
        groups.setdefault(info.group if info else "Other", []).append(item)
    sections = "".join(
        f'<section class="scope-group" data-group="{escape(group)}"><h2>{escape(group)}</h2>'
        f"<ul>{''.join(items)}</ul></section>"
        for group, items in sorted(groups.items())
    )
    return f'<div id="scopes">{sections}</div>'


def consent_page(
    *, app_name: str, request: AuthorizeRequest, accounts: list[SandboxAccount], action_url: str
) -> str:
    """The consent screen. Its form posts ``account_id`` and ``decision`` back to ``action_url``."""
    choices = [request.account] if request.account is not None else accounts
    options = "".join(
        f'<option value="{account.hub_id}">{escape(_account_label(account))}</option>' for account in choices
    )
    fixed = "true" if request.account is not None else "false"
    body = (
        f'<h1>Connect <span id="app-name">{escape(app_name)}</span> to HubSpot</h1>'
        f"<p>{escape(app_name)} is requesting access to your HubSpot account.</p>"
        f'<form id="consent" method="post" action="{escape(action_url)}">'
        f'<label for="account">Account</label>'
        f'<select id="account" name="account_id" data-fixed="{fixed}">{options}</select>'
        f"<p>The app will be able to:</p>{_scope_list(request)}"
        '<div class="actions">'
        '<button type="submit" id="grant" name="decision" value="grant">Grant access</button>'
        '<button type="submit" id="cancel" name="decision" value="deny">Cancel</button>'
        "</div></form>"
    )
    return _page(f"Connect {app_name} to HubSpot", body)


def error_page(*, code: str, message: str) -> str:
    """HubSpot's own error screen: shown instead of redirecting when the install cannot proceed."""
    body = (
        f'<h1 id="error-title" data-error-code="{escape(code)}">Authorization failed</h1>'
        f'<p id="error-message">{escape(message)}</p>'
        "<p>The app did not receive anything. Check the app's settings and the install URL.</p>"
    )
    return _page("Authorization failed", body, main_class="error")
