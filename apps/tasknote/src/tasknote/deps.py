"""FastAPI dependencies: the settings object, the database and the cache of this process.
Async on purpose: a plain `def` dependency would run in the thread pool on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tasknote.cache import TaskCache
from tasknote.runtime import Database, Runtime
from tasknote.settings import Settings
from tasknote.uploads import Admission


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(request: Request) -> Settings:
    return _runtime(request).settings


async def get_database(request: Request) -> Database:
    return _runtime(request).database


async def get_cache(request: Request) -> TaskCache:
    return _runtime(request).cache


async def get_admission(request: Request) -> Admission:
    return _runtime(request).uploads


async def get_runtime(request: Request) -> Runtime:
    return _runtime(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
CacheDep = Annotated[TaskCache, Depends(get_cache)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AdmissionDep = Annotated[Admission, Depends(get_admission)]
