"""Request dependencies: the tenant behind a bearer key, the service and its store."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .service import RunService
from .store import Store

LOCAL_TENANT = "local"
bearer = HTTPBearer(auto_error=False, description="An API key from DRAMAFACTORY_API_KEYS (tenant:key,...).")


class ApiKeyError(ValueError):
    pass


def parse_api_keys(text: str) -> dict[str, str]:
    """'tenant1:key1,tenant2:key2' -> {key: tenant}."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        tenant, sep, key = item.partition(":")
        if not sep or not tenant.strip() or len(key.strip()) < 8:
            raise ApiKeyError(f"DRAMAFACTORY_API_KEYS entry {tenant.strip() or '?'}:... must be tenant:key with a "
                              "key of 8 or more characters")
        if not tenant.strip().replace("-", "").replace("_", "").isalnum() or len(tenant.strip()) > 64:
            raise ApiKeyError(f"tenant name {tenant.strip()!r}: up to 64 letters, digits, '-' and '_'")
        keys[key.strip()] = tenant.strip()
    return keys


def current_tenant(request: Request,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    keys: dict[str, str] = request.app.state.api_keys
    if not keys:
        return LOCAL_TENANT
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required: Authorization: Bearer KEY",
                            headers={"WWW-Authenticate": "Bearer"})
    given = credentials.credentials.encode()
    for key, tenant in keys.items():  # constant-time comparison against every key
        if hmac.compare_digest(given, key.encode()):
            return tenant
    raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key is not valid")


def get_service(request: Request) -> RunService:
    return request.app.state.service


def get_store(request: Request) -> Store:
    return request.app.state.service.store


Tenant = Annotated[str, Depends(current_tenant)]
Service = Annotated[RunService, Depends(get_service)]
StoreDep = Annotated[Store, Depends(get_store)]
