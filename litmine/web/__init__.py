"""The clinicians' web page and JSON API (FastAPI); see :func:`litmine.web.app.create_app`."""
