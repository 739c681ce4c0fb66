"""A merchant POST takes its transaction, and with it the Idempotency-Key, from
`request_transaction`: a route that would not is refused when it is made."""

import pytest

from api.dependencies import MerchantDep
from api.idempotency.dependency import RequestTransactionDep
from api.routing import api_router


def test_a_merchant_post_without_the_request_transaction_is_refused():
    router = api_router()

    with pytest.raises(TypeError, match="RequestTransactionDep"):

        @router.post("/api/v1/things")
        async def create_thing(merchant: MerchantDep) -> dict:
            return {}


def test_a_merchant_post_with_it_documents_the_key_and_its_errors():
    router = api_router()

    @router.post("/api/v1/things")
    async def create_thing(merchant: MerchantDep, tx: RequestTransactionDep) -> dict:
        return {}

    (route,) = router.routes
    assert {"400", "409", "422", "429", "503", "default"} <= {str(s) for s in route.responses}
    assert "Idempotency-Key" in route.responses[400]["description"]


def test_a_public_post_needs_no_transaction_of_its_own():
    router = api_router()

    @router.post("/api/v1/public-things")
    async def create_public_thing() -> dict:
        return {}

    assert len(router.routes) == 1


@pytest.mark.parametrize("order", ["tx first", "no merchant"])
def test_a_transaction_is_taken_after_the_merchant_it_is_for(order):
    # request_transaction reads the merchant current_merchant authenticated (request.state):
    # declared after it, never before or without it.
    router = api_router()

    with pytest.raises(TypeError, match="MerchantDep"):
        if order == "tx first":

            @router.post("/api/v1/things")
            async def create_thing(tx: RequestTransactionDep, merchant: MerchantDep) -> dict:
                return {}

        else:

            @router.post("/api/v1/things")
            async def create_other_thing(tx: RequestTransactionDep) -> dict:
                return {}
