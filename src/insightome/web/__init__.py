"""The browser workbench (``insightome serve``): a local web app over the same API and run
directories as the command line (docs/web.md). Needs the ``web`` extra (FastAPI, Uvicorn)."""
