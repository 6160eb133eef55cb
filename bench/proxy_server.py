"""The proxy's FastAPI app alone under uvicorn, for bench/proxy.py: settings from the environment.

    .venv/bin/python bench/proxy_server.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn

from dashboard.context import build_context
from dashboard.settings import load_settings
from dashboard.web import proxy_routes
from dashboard.web.runtime import set_shared_context

if __name__ == "__main__":
    ctx = build_context(load_settings())
    set_shared_context(ctx)
    uvicorn.run(proxy_routes.build_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, http="h11", ws="none", lifespan="off")
