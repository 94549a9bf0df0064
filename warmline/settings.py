"""Settings read from the environment in one place.

Development mode (the embedded default) runs on SQLite under ``var/`` with an
in-process worker. Anything else must supply a real secret key: the server
refuses the development key outside development mode.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
DATA_DIR = Path(os.environ.get("WARMLINE_DATA_DIR", PROJECT_DIR / "var"))

DEV_SECRET_KEY = "warmline-development-key-not-for-production"  # noqa: S105

ENV = os.environ.get("WARMLINE_ENV", "development")
DEBUG = os.environ.get("WARMLINE_DEBUG", "1" if ENV == "development" else "0") == "1"
TESTING = "pytest" in sys.modules or os.environ.get("WARMLINE_TESTING") == "1"

SECRET_KEY = os.environ.get("WARMLINE_SECRET_KEY", DEV_SECRET_KEY)
if ENV != "development" and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "WARMLINE_SECRET_KEY must be set to a long random value when WARMLINE_ENV is not "
        "'development'."
    )
if ENV != "development" and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("WARMLINE_SECRET_KEY is too short (at least 32 characters).")

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("WARMLINE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("WARMLINE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "huey.contrib.djhuey",
    "django_htmx",
    "ninja",
    "warmline.tenancy",
    "warmline.empathy",
    "warmline.customers",
    "warmline.conversations",
    "warmline.channels",
    "warmline.channels.chat",
    "warmline.channels.messaging",
    "warmline.channels.voice",
    "warmline.proactive",
    "warmline.proactive.care",
    "warmline.actions",
    "warmline.knowledge",
    "warmline.feedback",
    "warmline.insights",
    "warmline.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "warmline.urls"
WSGI_APPLICATION = "warmline.wsgi.application"
ASGI_APPLICATION = "warmline.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DEFAULT_SQLITE = DATA_DIR / "warmline.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "warmline.db.sqlite3"
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else 600
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write
        # lock at BEGIN so two writers queue instead of failing on lock upgrade.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a real file (WAL, several connections) so concurrency tests mean something.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "WARMLINE_TEST_DB",
            str(Path(tempfile.gettempdir()) / f"warmline-test-{os.getpid()}.sqlite3"),
        )
    }
    if not TESTING:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth and security ----------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is deliberately slow; tests that are not about passwords should not pay for it.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

AUTHENTICATION_BACKENDS = ["warmline.tenancy.throttle.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Login throttling: after SOFT failures each further try must wait an exponentially
# growing delay; after HARD failures the account (or address) is locked.
WARMLINE_LOGIN_SOFT_LIMIT = int(os.environ.get("WARMLINE_LOGIN_SOFT_LIMIT", "5"))
WARMLINE_LOGIN_HARD_LIMIT = int(os.environ.get("WARMLINE_LOGIN_HARD_LIMIT", "10"))
WARMLINE_LOGIN_LOCK_SECONDS = int(os.environ.get("WARMLINE_LOGIN_LOCK_SECONDS", "900"))

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
if not DEBUG:
    SECURE_SSL_REDIRECT = os.environ.get("WARMLINE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = int(os.environ.get("WARMLINE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- I18n ------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the app folders in development; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"

# --- Cache, queue, real time -----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py reads with a 5 s socket timeout by default, exactly channels-redis's
            # 5 s blocking pop: an idle socket's receive then fails and drops the websocket.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "warmline",
        "url": REDIS_URL,
        "immediate": TESTING,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Huey's embedded queue is a SQLite file under the data folder, whatever the database.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    HUEY = {
        "huey_class": "warmline.queue.SqliteHuey",
        "name": "warmline",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": TESTING,
    }

# --- Product defaults ------------------------------------------------------------
WARMLINE_BULK_MAX = 1000
# Seconds a bearer-token lookup is cached (0: every request reads the database).
WARMLINE_TOKEN_CACHE_SECONDS = int(os.environ.get("WARMLINE_TOKEN_CACHE_SECONDS", "10"))
WARMLINE_EMBEDDED_WORKER = os.environ.get("WARMLINE_EMBEDDED_WORKER", "1") == "1"
# Live chat: messages per visitor per minute, new visitors per client address per hour.
WARMLINE_CHAT_RATE = (int(os.environ.get("WARMLINE_CHAT_MESSAGES_PER_MINUTE", "20")), 60)
WARMLINE_CHAT_NEW_VISITORS = (
    int(os.environ.get("WARMLINE_CHAT_NEW_VISITORS_PER_HOUR", "120")),
    3600,
)
WARMLINE_CHAT_MAX_CHARS = 4000
# Email: "HOST:PORT" makes `warmline serve` run the inbound SMTP server too (empty: don't).
WARMLINE_SMTPD = os.environ.get("WARMLINE_SMTPD", "")
WARMLINE_EMAIL_MAX_MESSAGE_BYTES = int(
    os.environ.get("WARMLINE_EMAIL_MAX_MESSAGE_BYTES", str(40 * 1024 * 1024))
)
WARMLINE_EMAIL_MAX_ATTACHMENT_BYTES = int(
    os.environ.get("WARMLINE_EMAIL_MAX_ATTACHMENT_BYTES", str(25 * 1024 * 1024))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WARMLINE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
