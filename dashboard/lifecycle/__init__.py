"""Connection health: the state machine every writer goes through, failures classified from HubSpot's
answer, the per-portal timeline, uptime, the outage breaker, and alerts that follow the state machine.

- ``machine``: states, events and the rule (pure; drawn in its docstring)
- ``transitions``: :func:`~dashboard.lifecycle.transitions.write_transition`, the one place a transition is written
- ``classify``: transient / terminal / configuration / key, and the kept fields of HubSpot's answer
- ``breaker``: HubSpot degraded and configuration conditions shared by replicas; the sweeps' circuit breaker
- ``keys``: key problems once per key id
- ``alerting``: alerts after transitions, damped, recorded in the timeline
- ``timeline``: the portal's timeline (the audit log) and its retention
- ``uptime``: share of time healthy per portal, the state strip and the fleet chart, from transitions
- ``budget``: the per-portal request budget of a portal failing transiently

May import webhooks (transitions emit events, alerts follow them), security, the composition root and below;
installs, refresh, connections and ops read it.
"""
