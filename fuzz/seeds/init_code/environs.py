from environs import Env

env = Env()
env.read_env()
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
HOSTS = env.list("ALLOWED_HOSTS", [])
PORT = env.int("PORT")
