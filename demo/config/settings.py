"""The demo shop's settings, read from the environment (12-factor).

Unset, every setting falls back to the embedded default: SQLite and the in-memory channel
layer in one process. See the README for the full list.
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# Never a constant, not even for development: a key anyone can read signs tokens and sessions
# anyone can forge. `make run` and `make serve` make one per checkout (.secret-key).
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Set SECRET_KEY in the environment; `make run` and `make serve` use a key of this "
        "checkout's own, made once in .secret-key."
    )

# With DEBUG on, Django itself accepts localhost names when the list is empty.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "channels",
    "stockwire",
    "shop",
]

# WhiteNoise comes last, not second as its docs suggest: it is the only middleware here that
# cannot run async, and Django's own handler (REQUESTS_IN_ONE_TRIP=false) bounces a request
# between the event loop and a thread around each middleware below a sync-only one (about
# 0.9 ms of each purchase, measured); last, the whole chain runs in one go. The one-trip
# handler runs the chain sync wherever it stands. Static files pass a few cheap middleware.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# Django's way: each request's sync code on a thread of its own, so one slow query or row lock
# never holds up the other requests.
REQUESTS_SHARE_SYNC_THREAD = False
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when the transaction starts and wait for it (up to `timeout`
        # seconds) instead of failing with "database is locked" halfway through a purchase.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # SQLite takes one writer at a time, so the sync code of all requests runs on one thread
    # (config/asgi.py) and keeps one connection open, instead of a new thread and a new
    # connection per request: a third of a purchase's CPU, measured.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    REQUESTS_SHARE_SYNC_THREAD = True
    # A file, not Django's shared in-memory database: concurrency tests need real connections.
    # One per test process, so two test runs on one checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Requests run their sync code on a few threads kept for them (config/concurrency.py),
    # the sockets' database calls on asgiref's one sync thread, the management commands on
    # their own: a pool shares connections among them, and after an outage reconnects.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE", default=20),
        # How long a request waits for a connection before it is answered 503.
        "timeout": 10,
        # Without a cap, the pool's backoff after an outage grows with the outage's length
        # (measured: 39 s to recover from an 82 s outage); capped, under a second.
        "reconnect_timeout": 20,
    }

# Each request's sync work (middleware, view, signals) in one trip from the event loop to its
# thread (demo/config/handler.py), not Django's five: a third less CPU for a refused purchase.
# Off, Django's own ASGI handler serves.
REQUESTS_IN_ONE_TRIP = env.bool("REQUESTS_IN_ONE_TRIP", default=True)

# Requests of one process in Django at once (demo/config/concurrency.py); the others wait in
# the event loop. With PASSWORD_CONCURRENCY, below the database pool, so a request in Django
# never waits for a connection. 4, not more: a request costs a few ms of CPU, and the threads
# of more at once only contend for the GIL (the 400-buyer sale: 2, 3 and 4 alike, 8 about a
# fifth slower, docs/benchmarks.md); enough that a slow query does not stall the process.
REQUEST_CONCURRENCY = env.int("REQUEST_CONCURRENCY", default=4)
# Password checks (logins, registrations) in Django at once per process, apart from the other
# requests: each is a fraction of a second of one core's hashing, so more at once only share
# the cores, and the other requests keep every one of their turns.
PASSWORD_CONCURRENCY = env.int("PASSWORD_CONCURRENCY", default=2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# In development WhiteNoise serves straight from the apps' static/ folders; in production
# from STATIC_ROOT after collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# WhiteNoise hands Django a file iterator that is not async; under ASGI Django reads it whole
# and warns on every static file. Our static files are a few KiB: the warning is only noise.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

# TLS is terminated in front of Stockwire (docs/deploy.md). Set HTTPS=true there: cookies become
# secure, plain HTTP is redirected, and browsers are told to stay on HTTPS. Whether a request
# came over TLS is the ASGI scope's scheme, which uvicorn takes from X-Forwarded-Proto only
# when a trusted proxy sent it (TRUSTED_PROXIES, demo/config/server.py); a header any client
# can send is never believed (so no SECURE_PROXY_SSL_HEADER).
HTTPS = env.bool("HTTPS", default=False)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    # Load balancers and Prometheus reach each process directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # A year, for every subdomain too: browsers then never ask the shop over plain HTTP.
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading is a one-way door (browsers ship the domain in their lists), so it is opt-in;
    # until then Django's reminder (W021) is the operator's decision, not a warning to fail on.
    SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
else:
    # Without HTTPS these four checks can only fail; `make serve` fails on every other warning.
    SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Far above any JSON body or admin form of this shop, far below what could fill a disk.
MAX_REQUEST_BODY = env.int("MAX_REQUEST_BODY", default=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog"
LOGOUT_REDIRECT_URL = "login"

REDIS_URL = env.str("REDIS_URL", default="")
# The channel-layer group prefix; processes that share a Redis and a prefix are one site.
CHANNEL_PREFIX = env.str("CHANNEL_PREFIX", default="stockwire")
REDIS_HOST = {
    "address": REDIS_URL,
    # channels-redis waits up to 5 s in BZPOPMIN for a message; redis-py 8 gives up reading
    # after 5 s by default, so an idle process would see a timeout error every few seconds.
    "socket_timeout": 15,
    "socket_connect_timeout": 5,
}
if REDIS_URL and env.str("REDIS_LAYER", default="core") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_HOST], "prefix": CHANNEL_PREFIX},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' layer, sending a change to all its groups in one go.
            "BACKEND": "stockwire.redis_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_HOST],
                "prefix": CHANNEL_PREFIX,
                # The layer carries one message per process per change (stockwire/hub.py), not
                # one per socket, so a process inbox fills only if the process stalls: 1,000
                # messages is a burst of 1,000 changes before the layer drops any.
                "capacity": env.int("CHANNEL_CAPACITY", default=1000),
                # A message older than this is stale anyway: stock is state, and a client that
                # missed it resyncs from a snapshot.
                "expiry": 60,
                # Memberships are per process and renewed by its hub every 15 minutes, so the
                # membership of a process that died without leaving lapses within the hour.
                "group_expiry": 3600,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env.int("CHANNEL_CAPACITY", default=1000)},
        }
    }

# Shared by all processes when Redis is there: per-user purchase limits count across them.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CHANNEL_PREFIX,
            "OPTIONS": {"pool_class": "config.redis_pool.ProcessConnectionPool"},
        }
    }

# Live stock (docs/integrating.md lists every key and its default). Presence counts are
# shared through Redis when it is there, under the channel layer's prefix.
STOCKWIRE = {
    "MODEL": "shop.Item",
    "HELD_FIELD": "held",
    "HOLD_SECONDS": env.int("HOLD_SECONDS", default=600),
    "HOLD_LIMIT_PER_ITEM": env.int("HOLD_LIMIT_PER_ITEM", default=5),
    "HOLD_LIMIT_TOTAL": env.int("HOLD_LIMIT_TOTAL", default=20),
    "MAX_SOCKETS_PER_USER": env.int("MAX_SOCKETS_PER_USER", default=20),
    "REDIS_URL": REDIS_URL or None,
    "KEY_PREFIX": CHANNEL_PREFIX,
    "RECONNECT_BASE_MS": env.int("RECONNECT_BASE_MS", default=500),
    "RECONNECT_CAP_MS": env.int("RECONNECT_CAP_MS", default=15000),
    "PRESENCE_TTL_SECONDS": env.float("PRESENCE_TTL_SECONDS", default=30),
    "PRESENCE_REFRESH_SECONDS": env.float("PRESENCE_REFRESH_SECONDS", default=10),
}

# Email: back-in-stock alerts (stockwire/alerts.py), sent by each process's sweep. `make run`
# prints them on the console; tests write them to files (EMAIL_BACKEND ending filebased
# .EmailBackend, with EMAIL_FILE_PATH); production sends through EMAIL_HOST:EMAIL_PORT.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends."
    + ("console.EmailBackend" if DEBUG else "smtp.EmailBackend"),
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-emails"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
# A slow mail server delays the next emails, never a request: the sweep waits this long at most.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stockwire shop <shop@localhost>")

# Who may read /metrics (config/health.py): a scraper with this bearer token, or one at these
# addresses (the direct client address; forwarded headers do not count). `make run` lets
# this machine look; in production set a token for Prometheus (docs/operations.md).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"] if DEBUG else [])

# The pages say "Only N left" while an item's available units are at most this many (and above 0).
LOW_STOCK_AT = env.int("LOW_STOCK_AT", default=5)

# Purchases per user, as DRF writes rates: far above a shopper, far below a script.
PURCHASE_RATE = env.str("PURCHASE_RATE", default="30/min")
# New accounts per client address, over the API and the register page together: a family
# behind one router registers a few; a script registering thousands is stopped.
REGISTER_RATE = env.str("REGISTER_RATE", default="10/hour")
# Failed logins (shop/logins.py) per account and per client address within a window of
# LOGIN_FAILURE_WINDOW seconds; past either, logins there wait for the window to end. Ten
# guesses at an account in 15 minutes leave a forgetful shopper room and a guesser nowhere;
# an address gets more, as many shoppers may share one.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # JWT first: its Bearer challenge makes DRF answer 401, not 403, without credentials.
        "shop.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["shop.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "shop.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Stockwire API",
    "DESCRIPTION": "Items, purchases and orders. Live stock levels are on the WebSocket.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so required inputs say minLength 1.
    "COMPONENT_SPLIT_REQUEST": True,
}

# A CSRF refusal under /api/ is JSON like every other API error.
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME", default=86400)),
    "UPDATE_LAST_LOGIN": False,
    # A refresh token works once: refreshing answers a new one and blacklists the old, so a
    # stolen one dies at its owner's next refresh (or the thief's gives itself away).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a hash of the password they were issued under: a password change ends
    # every access token (and socket authentication) at once; shop/tokens.py blacklists the
    # refresh tokens too.
    "CHECK_REVOKE_TOKEN": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "drop_query_strings": {"()": "stockwire.logs.DropQueryStrings"},
        "skip_database_unavailable": {"()": "config.logs.SkipDatabaseUnavailable"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "errors": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["skip_database_unavailable"],
        },
    },
    "loggers": {
        "stockwire": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        # Overflow of a process inbox is logged here, at INFO: it must be seen.
        "channels_redis": {"handlers": ["console"], "level": "INFO"},
        "psycopg.pool": {"handlers": ["console"], "level": "WARNING"},
        # A 500's traceback, DEBUG on or off (Django's own default shows it only with DEBUG).
        "django.request": {"handlers": ["errors"], "level": "ERROR", "propagate": False},
        # Configuring a logger here takes away the handlers uvicorn gave it: its request lines
        # (--access-log) need one again. The handshake lines gain the filter.
        "uvicorn.access": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["drop_query_strings"],
        },
        "uvicorn.error": {"filters": ["drop_query_strings"]},
    },
}
