"""The studio's HTTP side: the page, a JSON API, and Server-Sent Events for live progress.

Every route answers errors as ``{"error": "one line"}`` with no traceback or path; any path that is not
a route below is a 404 (the page and its files are served from a fixed table, never from a path
built from the request). ``security.Guard`` checks every request first.
"""

from __future__ import annotations

import asyncio
import json
import time
from importlib import resources
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import InputError
from .forms import form_config
from .jobs import Studio
from .library import UploadRefused, one_line
from .security import Guard

STATIC = {"app.js": "text/javascript; charset=utf-8", "brush.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
JSON_LIMIT = 256 << 10  # bytes of a JSON request body (a job's painted masks may add one upload's worth)
TICK = 0.1  # s between looks at the studio's state, per event stream
KEEPALIVE = 15.0  # s between comments on a quiet event stream
NO_STORE = {"Cache-Control": "no-store"}


def _page_files() -> dict[str, bytes]:
    folder = resources.files("stylegram.studio") / "static"
    return {name: (folder / name).read_bytes() for name in ("index.html", *STATIC)}


def create_app(studio: Studio, *, token: str | None = None) -> FastAPI:
    """The ASGI app for ``studio`` (started and closed by the caller). ``token``: required on every request
    when set (``security.py``); without one, only requests to a loopback name are answered."""
    files = _page_files()
    app = FastAPI(title="stylegram studio", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return JSONResponse({"error": one_line(str(exc))}, status_code=400)

    @app.exception_handler(UploadRefused)
    async def _refused(request: Request, exc: UploadRefused):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse({"error": detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": "the request is not what this route takes"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return JSONResponse({"error": "internal error; see the studio's console"}, status_code=500)

    @app.get("/")
    async def page():
        return Response(files["index.html"], media_type="text/html; charset=utf-8", headers=NO_STORE)

    @app.get("/static/{name}")
    async def static(name: str):
        if name not in STATIC:
            raise HTTPException(404, "Not Found")
        return Response(files[name], media_type=STATIC[name], headers=NO_STORE)

    @app.get("/api/config")
    async def config():
        library = studio.library
        return {**form_config(), "version": __version__, "token_required": bool(token),
                "upload": {"max_bytes": library.max_bytes, "max_pixels": library.max_pixels,
                           "min_side": library.min_side}}

    @app.get("/api/state")
    async def state():
        return JSONResponse(studio.state(), headers=NO_STORE)

    @app.get("/api/images")
    async def images():
        return [picture.public() for picture in studio.library.pictures()]

    @app.get("/api/images/{ident}")
    async def image(ident: str):
        return _file(studio.picture_file(ident))

    @app.get("/api/masks/{ident}")
    async def mask(ident: str):
        return _file(studio.masks.path(ident))

    @app.post("/api/uploads", status_code=201)
    async def upload(request: Request):
        library = studio.library
        label = unquote(request.headers.get("x-filename", ""))[:400]
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > library.max_bytes:
            raise UploadRefused(413, f"{one_line(label)[:80] or 'upload'}: {declared} bytes is over the studio's "
                                     f"limit of {library.max_bytes} bytes")
        received = library.incoming()
        try:
            size = 0
            with open(received, "wb") as handle:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > library.max_bytes:
                        raise UploadRefused(413, f"upload: over the studio's limit of {library.max_bytes} bytes")
                    handle.write(chunk)
            picture = await run_in_threadpool(library.accept, received, label)
        finally:
            received.unlink(missing_ok=True)
        return picture.public()

    @app.post("/api/jobs", status_code=201)
    async def submit(request: Request):
        body = await _json(request, JSON_LIMIT + _base64_length(studio.library.max_bytes))
        job = await run_in_threadpool(studio.submit_painted, body.get("content"), body.get("styles"),
                                      body.get("settings"), body.get("masks"))
        return _job(job.id)

    @app.post("/api/jobs/{job_id}/stop")
    async def stop(job_id: str):
        _known(job_id)
        studio.stop(job_id)
        return _job(job_id)

    @app.post("/api/jobs/{job_id}/resume")
    async def resume(job_id: str):
        _known(job_id)
        studio.resume(job_id)
        return _job(job_id)

    @app.get("/api/jobs/{job_id}/image")
    async def job_image(job_id: str, download: int = 0):
        """A job's picture: its result when done, its best image so far when stopped."""
        _known(job_id)
        job = studio.jobs[job_id]
        path = studio.result_path(job.result) if job.result else studio.best_path(job_id)
        name = f"stylegram-{job_id}{'' if job.result else '-stopped'}.png"
        return _file(path, download=name if download else None)

    @app.get("/api/gallery")
    async def gallery():
        return JSONResponse(await run_in_threadpool(studio.gallery), headers=NO_STORE)

    @app.get("/api/results/{name}")
    async def result(name: str, download: int = 0):
        path = studio.result_path(name)
        return _file(path, download=path.name if path and download else None)

    @app.post("/api/rerun", status_code=201)
    async def rerun(request: Request):
        body = await _json(request)
        job = await run_in_threadpool(studio.rerun, body.get("name"))
        return _job(job.id)

    @app.get("/api/events")
    async def events():
        return StreamingResponse(_events(studio), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def _known(job_id: str) -> None:
        if job_id not in studio.jobs:
            raise HTTPException(404, "no such job")

    def _job(job_id: str) -> dict:
        return studio.public(job_id)

    return Guard(app, token)


async def _events(studio: Studio):
    """``state`` events (everything a tab shows) when it changes, ``preview`` events with the running job's
    live image, a comment now and then; ends when the studio closes (the page reconnects by itself)."""
    yield "retry: 1000\n\n"
    version, seen, beat = -1, {}, time.monotonic()
    while True:
        if studio.version != version:
            state = studio.state()
            version = state["version"]
            yield f"event: state\ndata: {json.dumps(state)}\n\n"
        for job_id, number, data in studio.previews_since(seen):
            seen[job_id] = number
            yield f"event: preview\ndata: {json.dumps({'job': job_id, 'number': number, 'data': data})}\n\n"
        if studio.closing:
            return
        if time.monotonic() - beat > KEEPALIVE:
            beat = time.monotonic()
            yield ": still here\n\n"
        await asyncio.sleep(TICK)


async def _json(request: Request, limit: int = JSON_LIMIT) -> dict:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError(f"the request is over the studio's limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise InputError(f"the request is over the studio's limit of {limit} bytes")
    try:
        value = json.loads(bytes(body) or b"{}")
    except ValueError:
        raise InputError("expected a JSON body") from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object")
    return value


def _base64_length(size: int) -> int:
    return (size + 2) // 3 * 4


def _file(path, download: str | None = None):
    if path is None:
        raise HTTPException(404, "Not Found")
    headers = dict(NO_STORE)
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return FileResponse(path, headers=headers)
