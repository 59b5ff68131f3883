"""The clinicians' web page and JSON API (FastAPI); see :func:`litmine.web.app.create_app`.

Layer: a shell at the top, beside :mod:`litmine.cli`; may import anything in
``litmine`` (``answer``, ``search``, ``store``...); nothing but ``cli`` imports it.
"""
