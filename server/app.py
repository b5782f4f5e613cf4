"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from . import __version__, api, compute, downloads, embed, errors, interop, limits, pages
from .security import SecurityHeaders
from .settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
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
    compute.configure(settings)  # the process's cost budget, computing slots and cache
    errors.install(app)
    limits.install(app)
    if settings.gzip:
        app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    app.include_router(api.router, responses=errors.RESPONSES)
    app.include_router(interop.router, responses=errors.RESPONSES)
    app.include_router(pages.router)
    app.include_router(embed.router)
    app.include_router(downloads.router)
    app.mount("/vendor", pages.VendorFiles(directory=settings.static_dir / "vendor"), name="vendor")
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    return app


app = create_app()
