"""``stylegram studio``: a local web page that shows the picture forming (docs/studio.md).

A wing above the public API, like the CLI (it never imports ``stylegram.cli``):

- ``library.py``: the images a job can use, bundled examples and uploads (checked by the CLI's readers,
  stored under generated names);
- ``forms.py``: the page's settings -> ``StylizeSettings`` (the CLI's defaults, limits and messages);
- ``mask_store.py``: the masks painted on the page (checked like uploads, stored under generated names);
- ``jobs.py``: one job at a time, a queue; ``job_records.py``: a job and the jobs list kept between starts;
- ``job_runner.py``: running one job, stop/resume with the engine's snapshot; ``gallery.py``: results, re-runs;
- ``security.py``: the token and loopback rules, checked on every request;
- ``app.py`` + ``static/``: the FastAPI routes, Server-Sent Events and the page (``brush.js``: the mask brush);
- ``server.py``: uvicorn on a bound socket, Ctrl-C keeping the interrupted job's state.
"""
