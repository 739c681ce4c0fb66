from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.fields import EMAIL_PATTERN, NO_NUL_PATTERN, SHOWN_TEXT_RULE, ShownText, is_blank
from shared.domain.models.order import MERCHANT_ID_EXAMPLE

# A password is taken exactly as typed: spaces around it are part of it (NIST SP 800-63B
# accepts every printable character, spaces included), never trimmed as names and emails are.
Password = Annotated[str, StringConstraints(strip_whitespace=False)]


class MerchantSignup(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    # The body the OpenAPI document shows refused (api.routing.refused_body_example).
    refused_example: ClassVar[dict[str, Any]] = {
        "name": "Asha Stores", "email": "asha.example.com", "password": "correct horse"
    }  # fmt: skip

    name: ShownText = Field(
        min_length=1,
        max_length=255,
        description=f"Shown on the dashboard and the checkout page as typed: {SHOWN_TEXT_RULE}",
    )
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    password: Password = Field(min_length=8, max_length=256, pattern=NO_NUL_PATTERN)

    @field_validator("name")
    @classmethod
    def _name_shows(cls, name: str) -> str:
        # The checkout page says "Paying <name>": a name of zero-width spaces or Hangul
        # fillers left shoppers paying a blank (docs/api.md#shown-text).
        if is_blank(name):
            raise ValueError("name must have a visible character: a letter, digit or sign")
        return name


class MerchantLogin(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    refused_example: ClassVar[dict[str, Any]] = {"email": "", "password": "correct horse"}

    email: str = Field(min_length=1, max_length=254, pattern=NO_NUL_PATTERN)
    password: Password = Field(max_length=256, pattern=NO_NUL_PATTERN)


class RotatedApiSecret(BaseModel):
    api_key: str
    api_secret: str = Field(description="The new secret; shown once, store it now")
    previous_api_secret_expires_at: str = Field(
        description="Until then the replaced secret keeps working (API_SECRET_GRACE_SECONDS)"
    )


class TestMerchant(BaseModel):
    id: str = Field(examples=[MERCHANT_ID_EXAMPLE])
    email: str
    api_key: str
    seeded: bool
