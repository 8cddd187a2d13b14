"""Starlette routes for bench/asgi.sh: GET /json (JSONResponse, the framework's
hello) and GET /stream (StreamingResponse: 16 chunks of 1 KiB from an async
generator, no Content-Length, so the server chunks it)."""
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

CHUNK = b'x' * 1023 + b'\n'


async def hello(request):
    return JSONResponse({'message': 'Hello, ASGI!'})


async def chunks():
    for _ in range(16):
        yield CHUNK


async def stream(request):
    return StreamingResponse(chunks(), media_type='text/plain')


app = Starlette(routes=[Route('/json', hello), Route('/stream', stream)])
