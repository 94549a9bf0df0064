"""Server entry points are ready before their first request (warmline.warmup)."""

import subprocess
import sys


def test_importing_the_wsgi_app_loads_urls_and_models():
    code = (
        "import warmline.wsgi\n"
        "from django.urls import get_resolver\n"
        "from warmline.empathy import analyser\n"
        "assert get_resolver()._populated\n"
        "a = analyser.get()\n"
        "assert 'model' in a.__dict__ and 'vader' in a.__dict__\n"
        "import gc\n"
        "assert gc.get_freeze_count() > 100_000\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
