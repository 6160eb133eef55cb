"""The test OpenID provider's HTML: the sign-in page and its error page.

Stable ids for browser tests: ``input#email`` and ``button#signin`` (type any listed email),
``#users`` with one ``button.user[data-email]`` per sign-in user (one click signs in), ``button#cancel``,
``#signin-error`` when the typed email is not a user, and ``[data-error-code]`` on the error page.
Everything echoed is escaped.
"""

from __future__ import annotations

from html import escape

from .protocol import OidcUser

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f3f4f6;color:#1f2937;margin:0}
main{max-width:420px;margin:48px auto;background:#fff;border:1px solid #d1d5db;border-radius:8px;padding:28px}
h1{font-size:20px;margin-top:0} ul{list-style:none;padding:0} li{margin:6px 0}
.user{width:100%;text-align:left;padding:8px 12px;background:#fff;border:1px solid #d1d5db;border-radius:6px}
.user small{color:#6b7280;margin-left:6px} input{width:100%;padding:8px;margin:6px 0 12px;box-sizing:border-box}
.actions{display:flex;gap:12px} #signin{background:#2563eb;color:#fff;border:0;padding:8px 18px;border-radius:6px}
#cancel{background:#fff;border:1px solid #d1d5db;padding:8px 18px;border-radius:6px}
.error,#signin-error{color:#b91c1c}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def sign_in_page(*, client_id: str, users: list[OidcUser], action_url: str, error: str = "",
                 email: str = "") -> str:
    """The provider's sign-in screen: a listed user's button posts ``user``; the email form posts ``email``
    and ``decision`` (``signin`` / ``cancel``)."""
    items = "".join(
        f'<li><button type="submit" class="user" name="user" value="{escape(u.email)}" '
        f'data-email="{escape(u.email)}">{escape(u.name)}<small>{escape(u.email)}</small></button></li>'
        for u in users
    )
    problem = f'<p id="signin-error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        '<h1>Sign in <small>(sandbox identity provider)</small></h1>'
        f'<p>to continue to <strong id="client-id">{escape(client_id)}</strong></p>{problem}'
        # Two forms: Enter in the email field submits its own form (#signin), never the first user's button.
        f'<form id="users-form" method="post" action="{escape(action_url)}"><ul id="users">{items}</ul></form>'
        f'<form id="signin-form" method="post" action="{escape(action_url)}">'
        '<label for="email">Email</label>'
        f'<input id="email" name="email" type="email" autocomplete="off" value="{escape(email)}">'
        '<div class="actions">'
        '<button type="submit" id="signin" name="decision" value="signin">Sign in</button>'
        '<button type="submit" id="cancel" name="decision" value="cancel" formnovalidate>Cancel</button>'
        "</div></form>"
    )
    return _page("Sign in — sandbox identity provider", body)


def error_page(*, code: str, message: str) -> str:
    """Shown instead of redirecting when the client or its redirect URI is not the registered one."""
    body = (
        f'<h1 data-error-code="{escape(code)}">Sign-in request refused</h1>'
        f'<p class="error" id="error-message">{escape(message)}</p>'
    )
    return _page("Sign-in request refused", body)
