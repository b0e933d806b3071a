from typing import Optional
from pydantic import BaseSettings, Field


class Settings(BaseSettings):
    api_key: str = Field(..., env="API_KEY")
    region: Optional[str]
    timeout: int = 5

    class Config:
        env_prefix = "svc_"
        case_sensitive = False


class Production(Settings):
    region: str = "eu"


settings = Production()
