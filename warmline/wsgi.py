"""WSGI entry point: the production layout serves HTTP here (gunicorn or granian)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmline.settings")
application = get_wsgi_application()

from warmline.warmup import warm  # noqa: E402

warm()
