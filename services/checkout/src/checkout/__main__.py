"""`python -m checkout`: serve the checkout page and SDK on $PORT (default 3001)."""

from checkout.app import create_app
from checkout.config import CheckoutSettings
from checkout.serving import serve
from shared.core.settings import load_settings


def main() -> None:
    settings = load_settings(CheckoutSettings)
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
