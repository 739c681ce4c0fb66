"""`python -m checkout`: serve the checkout page and SDK on $PORT (default 3001)."""

import uvicorn

from checkout.app import create_app
from checkout.settings import CheckoutSettings, ConfigurationError, exit_on_bad_configuration


def main() -> None:
    try:
        settings = CheckoutSettings.from_environ()
    except ConfigurationError as error:
        exit_on_bad_configuration(error)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, server_header=False)


if __name__ == "__main__":
    main()
