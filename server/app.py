"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from . import __version__, api, compute, errors, interop, limits, pages
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
        lifespan=limits.lifespan,
    )
    app.state.settings = settings
    compute.configure(settings)  # the process's cost budget, computing slots and cache
    errors.install(app)
    limits.install(app)
    if settings.gzip:
        app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.include_router(api.router)
    app.include_router(interop.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    return app


app = create_app()
