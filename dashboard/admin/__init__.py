"""What admins manage: service API keys, encryption keys and their rotation, and sign-outs.

- ``api_keys``: API keys for the token API and the proxy: created by admins, shown once, stored hashed
- ``keys``: encryption key status and rotation (portal rows and webhook secrets re-sealed under the newest key)
- ``sign_outs``: sign-out that signs out: a server-side session epoch per signed-in user

The primitives these build on (the cipher, the vault, permission checks) are in ``dashboard.security``, below
the composition root. May import webhooks (rotation re-seals endpoint secrets), security, storage, the
composition root and below; not installs or refresh (independence contract).
"""
