"""A Starlette application with a FastAPI API mounted under /api, served by
gowsgi as ASGI:

    gowsgi examples/starlette/app.py --bind :8000

/            HTML page that follows /events (server-sent events)
/events      an endless SSE stream; it stops when the browser goes away
/api/todos   FastAPI: GET lists, POST adds (JSON, validated)
/upload      streams a request body in chunks and counts it

The lifespan opens a (pretend) resource at startup and closes it at
shutdown; what it yields is every request's request.state.
"""
import asyncio
import contextlib
import time

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

api = FastAPI(title='todos')
TODOS = []


class Todo(BaseModel):
    title: str
    done: bool = False


@api.get('/todos')
async def list_todos():
    return TODOS


@api.post('/todos', status_code=201)
async def add_todo(todo: Todo):
    TODOS.append(todo)
    return todo


PAGE = """<!doctype html><title>gowsgi + Starlette</title>
<h1>Server time</h1><pre id=t></pre>
<script>new EventSource('/events').onmessage = e => document.getElementById('t').textContent = e.data</script>
"""


async def home(request: Request):
    return HTMLResponse(PAGE)


async def events(request: Request):
    async def ticks():
        while True:
            yield 'data: %s (%s)\n\n' % (time.strftime('%H:%M:%S'), request.state.started)
            await asyncio.sleep(1)
    return StreamingResponse(ticks(), media_type='text/event-stream')


async def upload(request: Request):
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse('%d bytes\n' % size)


@contextlib.asynccontextmanager
async def lifespan(app):
    # Open database pools, HTTP clients... here; close them after the yield.
    yield {'started': time.strftime('%H:%M:%S')}


app = Starlette(routes=[
    Route('/', home),
    Route('/events', events),
    Route('/upload', upload, methods=['POST']),
    Mount('/api', app=api),
], lifespan=lifespan)
