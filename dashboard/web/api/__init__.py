"""The HTTP API under ``/api/v1``: FastAPI, pydantic models, a generated OpenAPI document, one error shape.

Include another router: ``build_api(my_router)`` (an ``APIRouter`` whose paths are relative to ``/api/v1``),
then ``api_route(app)`` in ``dashboard.web.app.build_routes``. Its handlers take ``key: ApiKey`` (authenticated,
rate-limited) and raise our exceptions (``dashboard.errors``): the error shape and statuses follow.
"""

from dashboard.web.api.app import PREFIX, ApiRoute, api_route, build_api

__all__ = ["PREFIX", "ApiRoute", "api_route", "build_api"]
