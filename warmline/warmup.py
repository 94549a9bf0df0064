"""Work a server process does before its first request, not during it.

Django imports the URLconf (every app's views, the API and its schemas) on the
first request, and the empathy analyser loads its models on the first message:
about 1.3 s in all. In a server process with several threads that first request
holds up every request queued behind it, which showed as a 1.2 s p99 in
bench/ingest.py. The WSGI and ASGI entry points call :func:`warm` at import, so
a worker only accepts connections once it is ready.

Then everything loaded so far (about 210,000 objects: modules, models, URL
patterns, the analyser) is moved out of the garbage collector's view
(``gc.freeze``). A full collection otherwise walks all of it, 160 ms in which the
worker answers nobody; frozen, the same collection takes about 16 ms.
"""

from __future__ import annotations

import gc


def warm() -> None:
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - the import is the point
    resolver._populate()

    from warmline.empathy import analyser

    shared = analyser.get()
    shared.model  # noqa: B018 - loads the shipped model file
    shared.vader  # noqa: B018

    gc.collect()
    gc.freeze()
