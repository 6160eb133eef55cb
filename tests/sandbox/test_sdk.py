"""HubSpot's official Python SDK (``hubspot-api-client``, v1 OAuth paths) against the sandbox."""

from __future__ import annotations

import httpx
import pytest
from hubspot import HubSpot
from hubspot.oauth import ApiException

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SandboxServer
from tests.utils.sandbox_oauth import FREE_HUB, get_code


def test_sdk_full_token_lifecycle(http: httpx.Client, sb: SandboxServer) -> None:
    client = HubSpot(host=sb.url)
    tokens = client.oauth.tokens_api.create(
        grant_type="authorization_code",
        code=get_code(http),
        redirect_uri=DEFAULT_REDIRECT_URI,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
    )
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 1800
    assert tokens.access_token
    assert tokens.refresh_token

    refreshed = client.oauth.tokens_api.create(
        grant_type="refresh_token",
        refresh_token=tokens.refresh_token,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
    )
    assert refreshed.refresh_token == tokens.refresh_token  # no rotation by default, as HubSpot documents

    access = client.oauth.access_tokens_api.get(token=refreshed.access_token)
    assert access.hub_id == FREE_HUB
    assert access.token == refreshed.access_token
    assert access.hub_domain == "acme-corp.hubspot.com"
    assert "crm.objects.contacts.read" in access.scopes

    info = client.oauth.refresh_tokens_api.get(token=refreshed.refresh_token)
    assert info.client_id == SANDBOX_CLIENT_ID
    assert info.hub_id == FREE_HUB

    assert client.oauth.refresh_tokens_api.archive(token=refreshed.refresh_token) is None
    with pytest.raises(ApiException) as caught:
        client.oauth.refresh_tokens_api.get(token=refreshed.refresh_token)
    assert caught.value.status == 404  # v1 metadata of a dead token: not found
    assert "BAD_REFRESH_TOKEN" in caught.value.body


def test_sdk_sees_hubspot_errors(sb: SandboxServer) -> None:
    client = HubSpot(host=sb.url)
    with pytest.raises(ApiException) as caught:
        client.oauth.tokens_api.create(
            grant_type="authorization_code",
            code="na1-0000-0000-0000-0000-000000000000",
            redirect_uri=DEFAULT_REDIRECT_URI,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
        )
    assert caught.value.status == 400
    assert "BAD_AUTH_CODE" in caught.value.body
