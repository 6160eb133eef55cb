"""A test OpenID Connect provider for ``st.login`` offline: tests, e2e journeys and the sign-in demo.

Not part of the product package: the dashboard signs in against a real provider (Google, Entra, Okta, ...);
this one exists so sign-in runs without network access. ``python -m devtools.oidc`` runs it; tests use
:class:`OidcServer` (in-process) or start the module as a subprocess.
"""

from .protocol import (
    DEFAULT_OIDC_USERS,
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_REDIRECT_URI,
    OidcConfig,
    OidcUser,
)
from .server import OidcServer

__all__ = ["DEFAULT_OIDC_USERS", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_REDIRECT_URI", "OidcConfig",
           "OidcServer", "OidcUser"]
