from typing import Optional, Annotated
from pydantic import Field, SecretStr, AliasChoices
from pydantic_settings import BaseSettings, SettingsConfigDict
import environ

class Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="orders_", env_file=".env")
    database_url: str
    debug: bool = False
    secret_key: SecretStr = Field(...)
    api_token: str = Field(validation_alias=AliasChoices("API_TOKEN", "TOKEN"))
    region: Annotated[str, Field(alias="AWS_REGION")]
    timeout: int = Field(5)
    name: Optional[str]
    _private: str

class Settings(Base):
    name: Optional[str] = None
    extra: str = Field(default_factory=str)

settings = Settings()

env = environ.Env(DEBUG=(bool, False), ALLOWED=(list,))
DEBUG = env("DEBUG")
SECRET = env("DJANGO_SECRET")
HOSTS = env.list("ALLOWED", default=[])
DATABASES = {"default": env.db()}
CACHE = env.cache_url("REDIS_URL", "redis://x")
X = env.str("OPTIONAL_X", "y")
Y = env.int("PORT_NUMBER")
