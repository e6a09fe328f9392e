"""The development server's app factory: `uvicorn --factory tasknote.devserver:app --reload`
(compose's `dev` profile) builds the app from the environment in each reloaded process."""

from __future__ import annotations

from fastapi import FastAPI

from tasknote import logs
from tasknote.api import create_app
from tasknote.settings import from_env


def app() -> FastAPI:
    settings = from_env()
    logs.setup(settings.log_level, "api-dev")
    return create_app(settings)
