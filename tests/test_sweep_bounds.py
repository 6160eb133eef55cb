"""Issue #10: every sweep ends and does bounded work; rows we cannot decrypt are their own failure.

The reproductions from the issue, through ``python -m dashboard refresh --due`` as a real subprocess against
the sandbox over loopback: 12 portals with a 40 s token lifetime swept with ``--within 3600`` (it used to
make thousands of grants and never end), and 30 rows on a key that is not configured (it used to spin at
80 % CPU, writing nothing).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dashboard import repository
from dashboard.context import AppContext, build_context
from dashboard.refresh import service as refresh
from dashboard.security.crypto import generate_key_entry
from tests.utils.cli import cli_env, run_cli
from tests.utils.lifecycle import ADMIN, FAST_RETRY, sandbox_get, sandbox_post
from tests.utils.seeding import seed_portals

K1 = generate_key_entry("k1")
K2 = generate_key_entry("k2")


def grants(sandbox: Any) -> int:
    return int(sandbox_get(sandbox, "/_sandbox/stats")["token_requests"]["refresh_token"])


def env_for(ctx: AppContext, sandbox: Any, keys: str, **extra: str) -> dict[str, str]:
    return cli_env(DASHBOARD_DATABASE_URL=ctx.settings.dashboard_database_url, DASHBOARD_ENCRYPTION_KEYS=keys,
                   DASHBOARD_DATA_DIR=str(ctx.settings.dashboard_data_dir), DASHBOARD_SANDBOX_URL=sandbox.url,
                   **extra)


def test_a_window_longer_than_the_token_lifetime_still_ends_with_one_grant_per_portal(
    ctx: AppContext, sandbox: Any, tmp_path: Path,
) -> None:
    sandbox_post(sandbox, "/_sandbox/config", {"access_token_ttl": 40, "rotate_refresh_tokens": True})
    hubs = seed_portals(ctx, sandbox.url, 12)
    keys = ctx.settings.dashboard_encryption_keys
    assert keys is not None
    env = env_for(ctx, sandbox, keys.get_secret_value())
    before = grants(sandbox)
    started = time.monotonic()
    done = run_cli("refresh", "--due", "--within", "3600", env=env, cwd=tmp_path, timeout=30)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"due": 12, "refreshed": 12}
    assert grants(sandbox) - before == 12
    print(f"\n12 portals, TTL 40 s, --within 3600: ended in {took:.1f} s with 12 grants")
    # The next pass finds every token younger than a minute: none is refreshed again automatically ...
    done = run_cli("refresh", "--due", "--within", "3600", env=env, cwd=tmp_path, timeout=30)
    assert json.loads(done.stdout.splitlines()[-1]) == {"due": 0}
    assert grants(sandbox) - before == 12
    # ... while a forced refresh (the page's "Refresh now") still goes through.
    assert refresh.refresh_portal(ctx, hubs[0], force=True, actor=ADMIN).result == "refreshed"
    assert grants(sandbox) - before == 13


def test_rows_on_a_missing_key_are_one_problem_audited_and_alerted_once(
    settings_factory: Any, sandbox: Any, tmp_path: Path, alert_sink: Any,
) -> None:
    """Issue 22 item 7: a key id is checked once per pass, its rows sit the pass out (no attempt, no audit
    row, no backoff), the key is audited and alerted once; when it comes back every portal is due at once."""
    url, alerts = alert_sink
    ctx = build_context(settings_factory(dashboard_encryption_keys=K1, dashboard_alert_webhook_url=url),
                        sandbox_url=sandbox.url, retry=FAST_RETRY)
    try:
        hubs = seed_portals(ctx, sandbox.url, 30)
        env = env_for(ctx, sandbox, K2, DASHBOARD_ALERT_WEBHOOK_URL=url)
        before = grants(sandbox)
        started = time.monotonic()
        for _ in range(3):  # three passes: the same one problem
            done = run_cli("refresh", "--due", "--within", "99999", "--concurrency", "4", env=env, cwd=tmp_path,
                           timeout=30)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout.splitlines()[-1]) == {"due": 0}
        took = time.monotonic() - started
        assert grants(sandbox) == before
        assert "Traceback" not in done.stderr and K1.split(":")[1] not in done.stderr + done.stdout
        with ctx.session() as session:
            assert repository.list_audit_events(session=session, action="refresh") == []
            [event] = repository.list_audit_events(session=session, action="condition.key")
            assert event.outcome == "on" and "'k1'" in event.detail and "30 portal(s)" in event.detail
            assert "DASHBOARD_ENCRYPTION_KEYS" in event.detail  # what to do
            for hub in hubs:
                portal = repository.portal_or_not_found(session=session, hub_id=hub)
                assert portal.next_attempt_at is None and portal.consecutive_failures == 0  # no backoff
        sent = [json.loads(a) for a in alerts]
        assert [a["event"] for a in sent] == ["key_problem"]
        print(f"\n30 rows on a missing key, 3 passes: {took:.1f} s, 0 grants, 0 refresh audit rows, 1 key event, "
              "1 alert")

        # The key comes back: every portal is refreshed by the next sweep, and the key's problem ends once.
        done = run_cli("refresh", "--due", "--within", "99999", env=env_for(ctx, sandbox, K1,
                                                                           DASHBOARD_ALERT_WEBHOOK_URL=url),
                       cwd=tmp_path, timeout=60)
        assert json.loads(done.stdout.splitlines()[-1]) == {"due": 30, "refreshed": 30}
        assert grants(sandbox) - before == 30
        with ctx.session() as session:
            events = repository.list_audit_events(session=session, action="condition.key")
            assert [e.outcome for e in events] == ["off", "on"]
        assert [json.loads(a)["event"] for a in alerts] == ["key_problem", "key_fixed"]
    finally:
        ctx.close()


def test_a_corrupt_ciphertext_is_undecryptable_and_the_other_portals_refresh(
    ctx: AppContext, sandbox: Any, alert_sink: Any,
) -> None:
    sandbox_post(sandbox, "/_sandbox/config", {"rotate_refresh_tokens": True})
    hubs = seed_portals(ctx, sandbox.url, 5)
    with ctx.session() as session:  # the refresh token of another row: a ciphertext moved between rows
        other = repository.get_portal(session=session, hub_id=hubs[1])
        assert other is not None
        repository.update_portal(session=session, hub_id=hubs[0], values={"refresh_token_ct": other.refresh_token_ct})
        session.commit()
    before = grants(sandbox)
    outcomes = {o.hub_id: o for o in refresh.refresh_due(ctx, actor=ADMIN)}
    assert outcomes[hubs[0]].result == "failed" and "Restore the key" in outcomes[hubs[0]].message
    assert {outcomes[h].result for h in hubs[1:]} == {"refreshed"}
    assert grants(sandbox) - before == 4
    with ctx.session() as session:
        portal = repository.get_portal(session=session, hub_id=hubs[0])
        assert portal is not None and portal.last_refresh_result == "undecryptable"
        assert f"hub {hubs[0]}" in (portal.last_error or "") and "'test1'" in (portal.last_error or "")
    assert refresh.refresh_due(ctx, actor=ADMIN) == []  # backing off: not tried again in the next pass
