from pydantic import Field

from shared.settings import GatewaySettings


class ApiSettings(GatewaySettings):
    port: int = Field(default=8000, ge=1, le=65535)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
