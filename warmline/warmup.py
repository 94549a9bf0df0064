"""Work a server process does before its first request, not during it.

Django imports the URLconf (every app's views, the API and its schemas) on the
first request, and the empathy analyser loads its models on the first message:
about 1.3 s in all. In a server process with several threads that first request
holds up every request queued behind it, which showed as a 1.2 s p99 in
bench/ingest.py. The WSGI and ASGI entry points call :func:`warm` at import, so
a worker only accepts connections once it is ready.
"""

from __future__ import annotations


def warm() -> None:
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - the import is the point
    resolver._populate()

    from warmline.empathy import analyser

    shared = analyser.get()
    shared.model  # noqa: B018 - loads the shipped model file
    shared.vader  # noqa: B018
