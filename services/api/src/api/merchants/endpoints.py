from typing import Any

from fastapi import APIRouter

from api.dependencies import GatewayDep
from api.errors import error_responses
from api.merchants import service
from api.merchants.schemas import MerchantCredentials, MerchantLogin, MerchantSignup, TestMerchant
from api.ratelimit.dependencies import FailedLoginLimit, SignupLimit

router = APIRouter(tags=["merchants"])


@router.post(
    "/api/v1/merchants",
    status_code=201,
    response_model=MerchantCredentials,
    responses=error_responses(400, 409, 429, 503),
    summary="Sign up a merchant",
    dependencies=[SignupLimit],
)
def sign_up(body: MerchantSignup, gateway: GatewayDep) -> dict[str, Any]:
    return service.sign_up(gateway.db, body)


@router.post(
    "/api/v1/merchants/login",
    response_model=MerchantCredentials,
    responses=error_responses(400, 401, 429, 503),
    summary="Log in with email and password",
    dependencies=[FailedLoginLimit],
)
def log_in(body: MerchantLogin, gateway: GatewayDep) -> dict[str, Any]:
    return service.log_in(gateway.db, body)


@router.get(
    "/api/v1/test/merchant",
    response_model=TestMerchant,
    responses=error_responses(404, 503),
    summary="The seeded test merchant",
)
def test_merchant(gateway: GatewayDep) -> dict[str, Any]:
    return service.test_merchant(gateway.db)
