"""FastAPI for bench/asgi.sh: GET /json returns a dict (FastAPI serialises it
with its JSONResponse), the usual FastAPI hello."""
from fastapi import FastAPI

app = FastAPI()


@app.get('/json')
async def hello():
    return {'message': 'Hello, ASGI!'}
