"""Broadcast rooms for gowsgi's tests (Debian's python3-starlette and
python3-fastapi), as their documentation's chat examples write them: every
text a member sends goes to every member. A member is welcomed ("welcome")
once it is in the room, so that a client knows it will get what is sent
from then on.

    /room        a Starlette WebSocketRoute
    /api/room    a FastAPI websocket route with a ConnectionManager
"""
from fastapi import FastAPI, WebSocket as FastAPIWebSocket, WebSocketDisconnect
from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute
from starlette.websockets import WebSocket


class ConnectionManager:
    def __init__(self):
        self.active = []

    async def connect(self, ws):
        await ws.accept()
        self.active.append(ws)
        await ws.send_text('welcome')

    def disconnect(self, ws):
        self.active.remove(ws)

    async def broadcast(self, text):
        for ws in list(self.active):
            await ws.send_text(text)


starlette_room = ConnectionManager()


async def room(ws: WebSocket):
    await starlette_room.connect(ws)
    try:
        while True:
            await starlette_room.broadcast(await ws.receive_text())
    except WebSocketDisconnect:
        starlette_room.disconnect(ws)


api = FastAPI()
api_room = ConnectionManager()


@api.websocket('/room')
async def fastapi_room(websocket: FastAPIWebSocket):
    await api_room.connect(websocket)
    try:
        while True:
            await api_room.broadcast(await websocket.receive_text())
    except WebSocketDisconnect:
        api_room.disconnect(websocket)


app = Starlette(routes=[WebSocketRoute('/room', room), Mount('/api', api)])
