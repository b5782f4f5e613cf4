"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from . import (
    __version__,
    api,
    downloads,
    embed,
    errors,
    interop,
    limits,
    model_api,
    model_page,
    pages,
    train_api,
    train_page,
)
from .catalog import VIEWS
from .compute import Runtime, RuntimeContext
from .security import SecurityHeaders
from .settings import Settings, get_settings
from .views import Registry


def create_app(settings: Settings | None = None, views: Registry | None = None) -> FastAPI:
    """An app with these settings (the environment's, ``get_settings()``, by default) and
    views (server/catalog.py's, by default). Its state is the one place both live at run
    time: ``app.state.settings``, the ``runtime`` made from them (cost budget, computing slots,
    cache), the ``templates`` and the ``views``, whose routes are built here."""
    settings = settings or get_settings()
    views = VIEWS if views is None else views
    app = FastAPI(
        title="BPTT Lab",
        version=__version__,
        description=(
            "See why gradients vanish and explode in recurrent networks. Every number the "
            "pages plot comes from this API. log10 magnitudes: `null` means exactly zero."
        ),
        # the API docs are a page of ours (pages.docs) with Swagger UI served from /vendor:
        # FastAPI's own pages load it from a CDN and start it with an inline script
        docs_url=None,
        redoc_url=None,
        lifespan=limits.lifespan,
    )
    app.state.settings = settings
    app.state.runtime = Runtime.of(settings)
    app.state.templates = pages.make_templates(settings)
    app.state.views = views
    errors.install(app)
    limits.install(app)
    app.add_middleware(RuntimeContext)
    if settings.gzip:
        app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    app.include_router(api.router(views), responses=errors.RESPONSES)
    app.include_router(interop.router, responses=errors.RESPONSES)
    app.include_router(train_api.router, responses=errors.RESPONSES)
    app.include_router(model_api.router, responses=errors.RESPONSES)  # MODELWEB: your model
    app.include_router(pages.router(views))
    app.include_router(train_page.router)
    app.include_router(model_page.router)  # MODELWEB: /model
    app.include_router(embed.router)
    app.include_router(downloads.router(views))
    app.mount("/vendor", pages.VendorFiles(directory=settings.static_dir / "vendor"), name="vendor")
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    return app


app = create_app()
