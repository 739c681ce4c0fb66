from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class MerchantSignup(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=255)
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    password: str = Field(min_length=8, max_length=256)


class MerchantLogin(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(max_length=256)


class MerchantCredentials(BaseModel):
    id: str
    name: str
    email: str
    api_key: str
    api_secret: str
    webhook_secret: str
    webhook_url: str | None = None
    created_at: str


class TestMerchant(BaseModel):
    id: str
    email: str
    api_key: str
    seeded: bool
