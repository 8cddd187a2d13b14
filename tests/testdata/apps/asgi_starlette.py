"""Starlette and FastAPI (Debian's python3-starlette, python3-fastapi) for
gowsgi's ASGI tests: a FastAPI JSON route with a validated body, mounted
under /api; Starlette's StreamingResponse, an SSE-style endless stream
whose generator leaves a marker in $PROBE_STATE_DIR when the client cuts
it; and a lifespan whose state reaches requests."""
import asyncio
import contextlib
import os

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name):
    if STATE_DIR:
        open(os.path.join(STATE_DIR, name), 'w').close()


api = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@api.get('/items/{item_id}')
async def read_item(item_id: int, q: str = None):
    return {'item_id': item_id, 'q': q}


@api.post('/items')
async def create_item(item: Item):
    return {'name': item.name, 'price_with_tax': round(item.price * 1.2, 2)}


async def home(request: Request):
    return JSONResponse({'hello': 'world', 'greeting': getattr(request.state, 'greeting', None)})


async def stream(request: Request):
    async def numbers():
        for i in range(5):
            yield 'line %d\n' % i
            await asyncio.sleep(0)
    return StreamingResponse(numbers(), media_type='text/plain')


async def events(request: Request):
    name = request.query_params.get('name', 'events')

    async def ticks():
        i = 0
        try:
            while True:
                yield 'data: tick %d\n\n' % i
                i += 1
                await asyncio.sleep(0.02)
        finally:
            mark(name + '.closed')
    return StreamingResponse(ticks(), media_type='text/event-stream')


async def upload(request: Request):
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return PlainTextResponse(str(n))


@contextlib.asynccontextmanager
async def lifespan(app):
    mark('startup')
    # Debian's uvicorn 0.17 predates lifespan state: NO_LIFESPAN_STATE=1
    # for the differential test.
    yield None if os.environ.get('NO_LIFESPAN_STATE') else {'greeting': 'hello from the lifespan'}
    mark('shutdown')


app = Starlette(routes=[
    Route('/', home),
    Route('/stream', stream),
    Route('/events', events),
    Route('/upload', upload, methods=['POST']),
    Mount('/api', app=api),
], lifespan=lifespan)
