"""`python -m checkout`: serve the checkout page and SDK on $PORT (default 3001)."""

from checkout.app import create_app
from checkout.serving import serve
from checkout.settings import CheckoutSettings, ConfigurationError, exit_on_bad_configuration


def main() -> None:
    try:
        settings = CheckoutSettings.from_environ()
    except ConfigurationError as error:
        exit_on_bad_configuration(error)
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
